/** The map's bottom layer, on a canvas: the density heatmap and the sampled entity dots. */
import type { ApiRect, PartitionView } from '../../core/api/types.ts'
import { heatColour } from './colors.ts'
import { densityCells, sampleDots } from './density.ts'

/** Colour steps of the heatmap: cells are drawn bucket by bucket, one fillStyle per bucket. */
const LEVELS = 48
const palette = Array.from({ length: LEVELS }, (_, i) => heatColour(i / (LEVELS - 1)))

let scratch: HTMLCanvasElement | undefined
let soft: HTMLCanvasElement | undefined

/** Draws `partitions`' density over `bounds`, filling a canvas of `cssWidth` × `cssHeight` pixels. */
export function drawDensity(canvas: HTMLCanvasElement, bounds: ApiRect, partitions: readonly PartitionView[], cssWidth: number, cssHeight: number): void {
  const dpr = window.devicePixelRatio || 1
  const w = Math.max(1, Math.round(cssWidth * dpr))
  const hgt = Math.max(1, Math.round(cssHeight * dpr))
  if (canvas.width !== w) canvas.width = w
  if (canvas.height !== hgt) canvas.height = hgt
  const ctx = canvas.getContext('2d')
  if (!ctx) return
  ctx.setTransform(1, 0, 0, 1, 0, 0)
  ctx.clearRect(0, 0, w, hgt)
  const worldW = Math.max(1e-9, bounds.maxX - bounds.minX)
  const worldH = Math.max(1e-9, bounds.maxY - bounds.minY)

  const { cells, max } = densityCells(partitions)
  if (max > 0) {
    // Load summaries are coarse grids, and a soft field reads as density where hard squares read
    // as tiles: the cells are drawn small, a pixel or two each, softened there (cheap on a small
    // canvas) and scaled up with smoothing.
    const meanCellPx = (cells.reduce((s, c) => s + (c.rect.maxX - c.rect.minX), 0) / cells.length) * (w / worldW)
    const shrink = Math.max(1, meanCellPx / 2)
    const sw = Math.max(1, Math.round(w / shrink))
    const sh = Math.max(1, Math.round(hgt / shrink))
    scratch ??= document.createElement('canvas')
    if (scratch.width !== sw) scratch.width = sw
    if (scratch.height !== sh) scratch.height = sh
    const sctx = scratch.getContext('2d')
    if (sctx) {
      sctx.setTransform(1, 0, 0, 1, 0, 0)
      sctx.clearRect(0, 0, sw, sh)
      sctx.setTransform(sw / worldW, 0, 0, sh / worldH, (-bounds.minX * sw) / worldW, (-bounds.minY * sh) / worldH)
      const buckets: (typeof cells)[] = Array.from({ length: LEVELS }, () => [])
      for (const c of cells) {
        // Square root: a few hot cells should not wash the rest of the world out to black.
        buckets[Math.round(Math.sqrt(Math.min(1, c.density / max)) * (LEVELS - 1))]?.push(c)
      }
      buckets.forEach((bucket, level) => {
        if (bucket.length === 0) return
        sctx.globalAlpha = 0.2 + (0.8 * level) / (LEVELS - 1)
        sctx.fillStyle = palette[level] ?? '#000'
        sctx.beginPath()
        for (const c of bucket) sctx.rect(c.rect.minX, c.rect.minY, c.rect.maxX - c.rect.minX, c.rect.maxY - c.rect.minY)
        sctx.fill()
      })
      soft ??= document.createElement('canvas')
      if (soft.width !== sw) soft.width = sw
      if (soft.height !== sh) soft.height = sh
      const softCtx = soft.getContext('2d')
      if (softCtx) {
        softCtx.clearRect(0, 0, sw, sh)
        softCtx.filter = 'blur(0.8px)'
        softCtx.drawImage(scratch, 0, 0)
        softCtx.filter = 'none'
      }
      ctx.imageSmoothingEnabled = true
      ctx.imageSmoothingQuality = 'high'
      ctx.drawImage(softCtx ? soft : scratch, 0, 0, w, hgt)
    }
  }

  // Dots a fixed 2.4 device pixels wide whatever the zoom.
  const sx = w / worldW
  const sy = hgt / worldH
  ctx.setTransform(sx, 0, 0, sy, -bounds.minX * sx, -bounds.minY * sy)
  const dw = 2.4 / sx
  const dh = 2.4 / sy
  ctx.globalAlpha = 0.85
  ctx.fillStyle = '#e8f4ff'
  ctx.beginPath()
  for (const d of sampleDots(partitions)) ctx.rect(d.x - dw / 2, d.y - dh / 2, dw, dh)
  ctx.fill()
  ctx.globalAlpha = 1
}
