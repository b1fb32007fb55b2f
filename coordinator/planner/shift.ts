/**
 * Border shifts, BigWorld's way: where two sibling leaves belong to different workers and the
 * hotter one is above the trigger band, their shared line moves toward the hotter side — far enough
 * to even the two workers out, but never more than the border's current step. The step doubles
 * (up to `shiftMaxStep`) while the border keeps its direction and halves (down to `shiftMinStep`)
 * when it reverses; a reversal within `borderCooldownS` of the last shift is refused.
 */
import { extent, span, splitRect } from '../../core/geometry.ts'
import { cooldownRounds, minWidth } from './config.ts'
import type { RoundCtx } from './context.ts'
import { fmt, hotAbove, key, leafPairs } from './context.ts'
import type { WLeaf } from './work-tree.ts'
import { shiftWork } from './work-tree.ts'

export function shiftBorders(ctx: RoundCtx): void {
  const { cluster, config, mean } = ctx
  const trigger = hotAbove(ctx)
  for (const node of leafPairs(ctx)) {
    if (ctx.budget.shifts <= 0) return
    const low = node.low as WLeaf
    const high = node.high as WLeaf
    if (node.born || low.born || high.born || low.pinned || high.pinned) continue
    const a = cluster.ownerOf(low)
    const b = cluster.ownerOf(high)
    if (!a || !b || a === b || a.info.draining || b.info.draining) continue
    const lowHot = cluster.util(a) >= cluster.util(b)
    const [hot, cold, shrink] = lowHot ? [a, b, low] : [b, a, high]
    const uHot = cluster.util(hot)
    if (!(uHot > trigger) || !ctx.confirmedHot.has(hot.info.id)) continue
    // Load that would even the two workers out, capped by the receiver's safety room and the leaf itself.
    const even = (hot.load * cold.info.capacity - cold.load * hot.info.capacity) / (hot.info.capacity + cold.info.capacity)
    const room = config.safetyFraction * cold.info.capacity - cold.load
    const want = Math.min(even, room, shrink.load)
    if (!(want > config.minGain * mean * hot.info.capacity)) continue

    const dir: -1 | 1 = lowHot ? -1 : 1
    const k = key(low.world, node.id)
    const last = ctx.borders[k]
    if (last && last.dir !== dir && ctx.round - last.round < cooldownRounds(config, config.borderCooldownS)) continue
    const step = !last
      ? config.shiftMaxStep
      : last.dir === dir
        ? Math.min(config.shiftMaxStep, last.step * 2)
        : Math.max(config.shiftMinStep, last.step / 2)

    const index = low.world.index
    const axis = node.axis
    const [lo, hi] = span(node.rect, axis)
    const min = minWidth(config)
    // Where the shrinking leaf's load, counted from the line inward, reaches `want` (an untouched
    // leaf's index total is its load: its summary was scaled to it).
    const target = lowHot
      ? index.coordinateAt(low.rect, axis, low.load - want)
      : index.coordinateAt(high.rect, axis, want)
    const maxDelta = step * extent(node.rect, axis)
    let at = Math.min(node.at + maxDelta, Math.max(node.at - maxDelta, target))
    at = Math.min(hi - min, Math.max(lo + min, at))
    if (lowHot ? !(at < node.at) : !(at > node.at)) continue
    const strip = lowHot ? splitRect(low.rect, axis, at)[1] : splitRect(high.rect, axis, at)[0]
    const moved = Math.min(shrink.load, index.loadIn(strip))
    // A line through empty ground changes nothing worth a new map.
    if (!(moved > 0.25 * config.minGain * mean * hot.info.capacity)) continue

    const before = { at: node.at, step: last ? last.step : null }
    const uCold = cluster.util(cold)
    cluster.remove(low)
    cluster.remove(high)
    shiftWork(node, at, lowHot ? moved : -moved)
    cluster.add(low)
    cluster.add(high)
    ctx.borders[k] = { dir, step, round: ctx.round }
    ctx.budget.shifts--
    ctx.decisions.push({
      kind: 'shift', worldId: low.world.worldId, partition: node.id, axis, from: shrink.id, to: shrink === low ? high.id : low.id,
      load: moved,
      reason: `${hot.info.id} at ${fmt(uHot / mean)}× mean, ${cold.info.id} at ${fmt(uCold / mean)}×; ` +
        `moved ${axis} line ${fmt(before.at)} → ${fmt(at)} (step ${fmt(step)})`,
      before, after: { at, step, dir },
    })
  }
}
