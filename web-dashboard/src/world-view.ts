/**
 * The world view: the partition map drawn to scale, in three layers. A canvas at the bottom
 * carries the density heatmap and sampled entity dots; a canvas above it the partitions (coloured
 * by owner), split lines and labels; an SVG on top holds one transparent rect per partition, for
 * hover, clicks, the selection outline, and `data-*` attributes naming id, owner, epoch and load
 * (for people's tools and the tests). The SVG's viewBox is the world's bounds: world units.
 *
 * When a new map version arrives, borders slide from where they are drawn to where they now are:
 * kept partitions and split lines are interpolated, new split lines grow from their midpoint and
 * removed ones shrink into it. Only the middle canvas is redrawn per frame; the SVG takes the new
 * geometry at once, so clicks always land on the current map.
 */
import type { ApiRect, PartitionView, WorldDetail } from '../../core/api/types.ts'
import { h, setAttrs, svg } from './dom.ts'
import { fmtCoord, fmtInt, fmtMs } from './format.ts'
import { drawDensity } from './heatmap.ts'
import { drawPartitions } from './map-canvas.ts'
import type { Segment } from './tween.ts'
import { collapsed, easeInOutCubic, lerpRect, lerpSegment, splitSegment } from './tween.ts'

const ANIMATION_MS = 700

interface DrawnPartition {
  view: PartitionView
  /** What `describe` last wrote: unchanged partitions are not touched (1,000 rects, every second). */
  described: string
  el: SVGRectElement
  from: ApiRect
  to: ApiRect
}

interface DrawnSplit {
  el: SVGLineElement
  from: Segment
  to: Segment
  /** Removed from the map: shrinking away, deleted when the animation ends. */
  leaving: boolean
}

export class WorldView {
  private readonly heat: HTMLCanvasElement
  private readonly shapes: HTMLCanvasElement
  private readonly map: SVGSVGElement
  private readonly partsLayer: SVGGElement
  private readonly splitsLayer: SVGGElement
  private readonly tooltip: HTMLDivElement
  private readonly parts = new Map<string, DrawnPartition>()
  private readonly splits = new Map<string, DrawnSplit>()
  private detail: WorldDetail | undefined
  private selected: string | null = null
  private animStart = 0
  private animating = false
  private frames: number[] = []
  /** The box's CSS size, read once per update or resize: reading it per frame forces layouts. */
  private size = { width: 1, height: 1 }
  private hovered: { id: string | null; x: number; y: number } = { id: null, x: 0, y: 0 }

  constructor(
    private readonly root: HTMLElement,
    private readonly onSelect: (p: PartitionView | null) => void,
  ) {
    this.heat = h('canvas', { class: 'heat', 'aria-hidden': 'true' })
    this.shapes = h('canvas', { class: 'shapes', 'aria-hidden': 'true' })
    this.map = svg('svg', { class: 'map', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'partition map' })
    this.partsLayer = svg('g', { class: 'parts' })
    this.splitsLayer = svg('g', { class: 'splits' })
    this.map.append(this.partsLayer, this.splitsLayer)
    this.tooltip = h('div', { class: 'tooltip', hidden: true, 'data-testid': 'tooltip' })
    root.append(this.heat, this.shapes, this.map, this.tooltip)

    // One listener for all partitions: 1,000 rects need no 1,000 handlers.
    this.map.addEventListener('pointermove', (e) => this.hover(e))
    this.map.addEventListener('pointerleave', () => {
      this.hovered = { id: null, x: 0, y: 0 }
      this.tooltip.hidden = true
    })
    this.map.addEventListener('click', (e) => {
      const id = partitionIdOf(e.target)
      this.select(id)
      this.onSelect(id === null ? null : (this.parts.get(id)?.view ?? null))
    })
    new ResizeObserver(() => {
      this.measure()
      this.drawDensity()
      this.drawFrame(this.progress())
    }).observe(root)
  }

  /** Shows a new version of the world (or another world); returns the script time it took, ms. */
  update(detail: WorldDetail): number {
    const started = performance.now()
    const sameWorld = this.detail?.spec.id === detail.spec.id
    if (!sameWorld) this.clear()
    this.detail = detail
    this.layout(detail.spec.bounds)

    const progress = this.progress()
    let moved = false
    const seen = new Set<string>()
    for (const p of detail.partitions) {
      seen.add(p.partitionId)
      let drawn = this.parts.get(p.partitionId)
      if (drawn) {
        const now = lerpRect(drawn.from, drawn.to, progress)
        moved ||= !sameRect(now, p.rect)
        Object.assign(drawn, { from: now, to: p.rect, view: p })
      } else {
        drawn = { view: p, described: '', el: svg('rect', { class: 'part', 'vector-effect': 'non-scaling-stroke' }), from: p.rect, to: p.rect }
        this.parts.set(p.partitionId, drawn)
        this.partsLayer.append(drawn.el)
      }
      this.describe(drawn)
    }
    for (const [id, drawn] of this.parts) {
      if (seen.has(id)) continue
      drawn.el.remove()
      this.parts.delete(id)
      if (this.selected === id) this.selected = null
    }

    const splitIds = new Set<string>()
    for (const s of detail.splits) {
      splitIds.add(s.id)
      const to = splitSegment(s)
      const drawn = this.splits.get(s.id)
      if (drawn) {
        const now = lerpSegment(drawn.from, drawn.to, progress)
        moved ||= !sameSegment(now, to) || drawn.leaving
        // Cut again before it finished shrinking away (a merge undone at once): back in the SVG.
        if (drawn.leaving) this.splitsLayer.append(drawn.el)
        if (!sameSegment(drawn.to, to) || drawn.leaving) placeLine(drawn.el, to)
        Object.assign(drawn, { from: now, to, leaving: false })
      } else {
        moved ||= sameWorld
        const el = svg('line', { class: 'split', 'data-split': s.id })
        placeLine(el, to)
        this.splitsLayer.append(el)
        this.splits.set(s.id, { el, from: sameWorld ? collapsed(to) : to, to, leaving: false })
      }
    }
    for (const [id, drawn] of this.splits) {
      if (splitIds.has(id) || drawn.leaving) continue
      const now = lerpSegment(drawn.from, drawn.to, progress)
      Object.assign(drawn, { from: now, to: collapsed(now), leaving: true })
      drawn.el.remove()
      moved = true
    }

    setAttrs(this.root, {
      'data-world': detail.spec.id,
      'data-map-version': detail.spec.mapVersion,
      'data-partitions': detail.partitions.length,
    })
    this.drawDensity()
    if (moved) this.startAnimation()
    else this.drawFrame(1)
    if (!this.tooltip.hidden) this.showTooltip()
    const ms = performance.now() - started
    this.root.dataset['renderMs'] = ms.toFixed(2)
    return ms
  }

  /** Highlights a partition (null: none). */
  select(partitionId: string | null): void {
    if (this.selected === partitionId) return
    if (this.selected !== null) this.parts.get(this.selected)?.el.classList.remove('selected')
    this.selected = partitionId !== null && this.parts.has(partitionId) ? partitionId : null
    if (this.selected !== null) {
      const el = this.parts.get(this.selected)?.el
      el?.classList.add('selected')
      // Last child draws on top: the outline is not hidden under a neighbour.
      if (el) this.partsLayer.append(el)
    }
  }

  /** Script time of animation frames since the last call, ms (the render budget the bench reports). */
  takeFrameTimes(): number[] {
    const f = this.frames
    this.frames = []
    return f
  }

  private clear(): void {
    this.partsLayer.replaceChildren()
    this.splitsLayer.replaceChildren()
    this.parts.clear()
    this.splits.clear()
    this.selected = null
    this.animating = false
  }

  private layout(b: ApiRect): void {
    const w = b.maxX - b.minX
    const hgt = b.maxY - b.minY
    const viewBox = `${b.minX} ${b.minY} ${w} ${hgt}`
    if (this.map.getAttribute('viewBox') !== viewBox) {
      this.map.setAttribute('viewBox', viewBox)
      // Drawn to scale: the box keeps the world's aspect and fits both the column and the screen.
      this.root.style.aspectRatio = `${w} / ${hgt}`
      this.root.style.width = `min(100%, calc(72vh * ${(w / hgt).toFixed(4)}))`
    }
    this.measure()
  }

  private measure(): void {
    this.size = { width: this.root.clientWidth, height: this.root.clientHeight }
  }

  /** The SVG rect's geometry and data attributes, written only when they changed. */
  private describe(d: DrawnPartition): void {
    const p = d.view
    const r = p.rect
    const key = `${p.owner ?? ''}|${p.epoch}|${p.pinned}|${p.load?.tickCostMs.toFixed(2) ?? ''}|${r.minX},${r.minY},${r.maxX},${r.maxY}`
    if (key === d.described) return
    d.described = key
    setAttrs(d.el, {
      'data-partition': p.partitionId,
      'data-id': p.id,
      'data-owner': p.owner ?? '',
      'data-epoch': p.epoch,
      'data-pinned': p.pinned ? 'true' : 'false',
      'data-load': p.load ? p.load.tickCostMs.toFixed(2) : '',
      'aria-label': `${p.partitionId} owned by ${p.owner ?? 'nobody'}, epoch ${p.epoch}`,
    })
    d.el.x.baseVal.value = r.minX
    d.el.y.baseVal.value = r.minY
    d.el.width.baseVal.value = Math.max(0, r.maxX - r.minX)
    d.el.height.baseVal.value = Math.max(0, r.maxY - r.minY)
  }

  private progress(): number {
    return this.animating ? easeInOutCubic((performance.now() - this.animStart) / ANIMATION_MS) : 1
  }

  private startAnimation(): void {
    this.animStart = performance.now()
    if (this.animating) return
    this.animating = true
    this.root.dataset['animating'] = 'true'
    const step = (): void => {
      if (!this.animating) return
      const t = this.progress()
      const began = performance.now()
      this.drawFrame(t)
      this.frames.push(performance.now() - began)
      if (t < 1) requestAnimationFrame(step)
      else {
        this.animating = false
        for (const [id, s] of this.splits) if (s.leaving) this.splits.delete(id)
        delete this.root.dataset['animating']
      }
    }
    requestAnimationFrame(step)
  }

  /** Draws every partition and split line at animation progress `t` (eased, 0..1). */
  private drawFrame(t: number): void {
    if (!this.detail) return
    const shapes = [...this.parts.values()].map((d) => ({ view: d.view, rect: t >= 1 ? d.to : lerpRect(d.from, d.to, t) }))
    const segments: Segment[] = []
    for (const s of this.splits.values()) if (!(s.leaving && t >= 1)) segments.push(t >= 1 ? s.to : lerpSegment(s.from, s.to, t))
    drawPartitions(this.shapes, { bounds: this.detail.spec.bounds, ...this.size }, shapes, segments)
  }

  private drawDensity(): void {
    if (!this.detail) return
    const started = performance.now()
    drawDensity(this.heat, this.detail.spec.bounds, this.detail.partitions, this.size.width, this.size.height)
    this.root.dataset['densityMs'] = (performance.now() - started).toFixed(2)
  }

  private hover(e: PointerEvent): void {
    this.hovered = { id: partitionIdOf(e.target), x: e.offsetX, y: e.offsetY }
    this.showTooltip()
  }

  /** Also after each update, so the numbers under a resting pointer stay current. */
  private showTooltip(): void {
    const { id, x, y } = this.hovered
    const p = id === null ? undefined : this.parts.get(id)?.view
    if (!p) {
      this.tooltip.hidden = true
      return
    }
    const r = p.rect
    const lines = [
      `${p.partitionId}  (epoch ${p.epoch}${p.pinned ? ', pinned' : ''})`,
      `owner ${p.owner ?? 'none'}`,
      p.load ? `load ${fmtMs(p.load.tickCostMs)} ms/s · ${fmtInt(p.load.entities)} entities · ${fmtInt(p.load.clients)} clients` : 'no load report',
      `x ${fmtCoord(r.minX)}–${fmtCoord(r.maxX)}, y ${fmtCoord(r.minY)}–${fmtCoord(r.maxY)}`,
      p.mergeableWith ? `merges with ${p.mergeableWith}` : '',
    ].filter((l) => l !== '')
    this.tooltip.replaceChildren(...lines.map((l) => h('div', {}, l)))
    // Keep the tooltip inside the map: flip it to the left or up near the far edges.
    this.tooltip.style.left = `${x > this.size.width * 0.6 ? x - 250 : x + 14}px`
    this.tooltip.style.top = `${y > this.size.height * 0.75 ? y - 90 : y + 14}px`
    this.tooltip.hidden = false
  }
}

function partitionIdOf(target: EventTarget | null): string | null {
  if (!(target instanceof Element)) return null
  return target.closest('[data-partition]')?.getAttribute('data-partition') ?? null
}

/** The SVG copy of a split line: data for tools and tests (hidden; the canvas draws it). */
function placeLine(el: SVGLineElement, s: Segment): void {
  setAttrs(el, { x1: s.x1, y1: s.y1, x2: s.x2, y2: s.y2 })
}

function sameRect(a: ApiRect, b: ApiRect): boolean {
  return a.minX === b.minX && a.minY === b.minY && a.maxX === b.maxX && a.maxY === b.maxY
}

function sameSegment(a: Segment, b: Segment): boolean {
  return a.x1 === b.x1 && a.y1 === b.y1 && a.x2 === b.x2 && a.y2 === b.y2
}
