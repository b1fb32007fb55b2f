/**
 * The map's middle layer, on a canvas: partitions filled and outlined in their owner's colour, the
 * split lines and the labels. Redrawn whole on every animation frame: a canvas pass over 1,000
 * rects costs a few milliseconds, where moving 1,000 SVG rects costs the browser a relayout.
 */
import type { ApiRect, PartitionView } from '../../core/api/types.ts'
import { ownerColour } from './colors.ts'
import { fmtMs } from './format.ts'
import type { Segment } from './tween.ts'

/** Labels only where they fit, in CSS pixels; smaller partitions show theirs on hover. */
const LABEL_MIN_PX = { w: 62, h: 34 }

export interface PartitionShape {
  view: PartitionView
  rect: ApiRect
}

export interface Viewport {
  bounds: ApiRect
  /** Canvas size in CSS pixels. */
  width: number
  height: number
}

export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): number {
  const dpr = window.devicePixelRatio || 1
  const w = Math.max(1, Math.round(width * dpr))
  const h = Math.max(1, Math.round(height * dpr))
  if (canvas.width !== w) canvas.width = w
  if (canvas.height !== h) canvas.height = h
  return dpr
}

export function drawPartitions(canvas: HTMLCanvasElement, vp: Viewport, shapes: readonly PartitionShape[], splits: readonly Segment[]): void {
  const dpr = sizeCanvas(canvas, vp.width, vp.height)
  const ctx = canvas.getContext('2d')
  if (!ctx) return
  ctx.setTransform(1, 0, 0, 1, 0, 0)
  ctx.clearRect(0, 0, canvas.width, canvas.height)
  const sx = (vp.width * dpr) / Math.max(1e-9, vp.bounds.maxX - vp.bounds.minX)
  const sy = (vp.height * dpr) / Math.max(1e-9, vp.bounds.maxY - vp.bounds.minY)
  // Device-pixel coordinates, rounded to half pixels: crisp one-pixel borders at any zoom.
  const X = (x: number): number => Math.round((x - vp.bounds.minX) * sx) + 0.5
  const Y = (y: number): number => Math.round((y - vp.bounds.minY) * sy) + 0.5

  // One path per owner and style: 50 owners mean 50 fills, not 1,000.
  const groups = new Map<string, { colour: string; dashed: boolean; rects: ApiRect[] }>()
  for (const s of shapes) {
    const key = `${s.view.owner ?? ''}|${s.view.pinned}`
    let g = groups.get(key)
    if (!g) {
      g = { colour: ownerColour(s.view.owner), dashed: s.view.pinned || s.view.owner === null, rects: [] }
      groups.set(key, g)
    }
    g.rects.push(s.rect)
  }
  for (const g of groups.values()) {
    ctx.beginPath()
    for (const r of g.rects) ctx.rect(X(r.minX), Y(r.minY), X(r.maxX) - X(r.minX), Y(r.maxY) - Y(r.minY))
    ctx.globalAlpha = 0.2
    ctx.fillStyle = g.colour
    ctx.fill()
    ctx.globalAlpha = 0.95
    ctx.strokeStyle = g.colour
    ctx.lineWidth = (g.dashed ? 2.5 : 1.5) * dpr
    ctx.setLineDash(g.dashed ? [6 * dpr, 4 * dpr] : [])
    ctx.stroke()
  }
  ctx.setLineDash([])

  ctx.beginPath()
  for (const s of splits) {
    ctx.moveTo(X(s.x1), Y(s.y1))
    ctx.lineTo(X(s.x2), Y(s.y2))
  }
  ctx.globalAlpha = 0.55
  ctx.strokeStyle = '#ffffff'
  ctx.lineWidth = 1.25 * dpr
  ctx.stroke()

  ctx.globalAlpha = 1
  ctx.textAlign = 'center'
  ctx.textBaseline = 'middle'
  ctx.lineJoin = 'round'
  const size = 11 * dpr
  for (const s of shapes) {
    const r = s.rect
    const wPx = ((r.maxX - r.minX) * sx) / dpr
    const hPx = ((r.maxY - r.minY) * sy) / dpr
    if (wPx < LABEL_MIN_PX.w || hPx < LABEL_MIN_PX.h) continue
    const p = s.view
    const cx = (X(r.minX) + X(r.maxX)) / 2
    const cy = (Y(r.minY) + Y(r.maxY)) / 2
    const lines: [string, string][] = [
      [`600 ${size}px system-ui, sans-serif`, `${p.partitionId} · e${p.epoch}${p.pinned ? ' · pinned' : ''}`],
      [`400 ${size}px system-ui, sans-serif`, p.load ? `${fmtMs(p.load.tickCostMs)} ms/s` : 'no load'],
    ]
    lines.forEach(([font, text], i) => {
      ctx.font = font
      const y = cy + (i - 0.5) * size * 1.25
      ctx.lineWidth = 3 * dpr
      ctx.strokeStyle = 'rgba(11, 14, 20, 0.8)'
      ctx.strokeText(text, cx, y)
      ctx.fillStyle = '#ffffff'
      ctx.fillText(text, cx, y)
    })
  }
}
