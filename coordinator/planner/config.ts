/**
 * The planner's parameters, parsed and defaulted in one place. Loads are in the unit workers report
 * tick cost in: milliseconds of simulation work per second (1000 = one core kept busy).
 */
import { z } from 'zod'

const fraction = z.number().gt(0).lte(1)
const positive = z.number().gt(0)
const seconds = z.number().nonnegative()
const count = z.number().int().nonnegative()

const schema = z
  .object({
    /** Ghost margin in world units; no partition is made narrower than twice it. Default 16. */
    ghostMargin: z.number().nonnegative().default(16),
    /** The balance the planner promises: max/mean worker utilisation after convergence. Default 1.25. */
    imbalanceBound: z.number().gt(1).default(1.25),
    /** Rebalancing starts when a worker's utilisation exceeds mean × this (below the bound: hysteresis; high enough that load noise across many workers does not keep partitions moving). Default 1.15. */
    balanceTrigger: z.number().gt(1).default(1.15),
    /**
     * Once a worker is hot, a round goes on moving leaves until no worker is above mean × this (as
     * far as moves that gain `minGain` allow), rather than stopping just under the trigger: a
     * cluster left at 1.14 × the mean is one noisy second away from the next round of moves, and
     * each move is a handover. At least 1; a target above `balanceTrigger` counts as the trigger.
     * Default 1.05.
     */
    balanceTarget: z.number().gte(1).default(1.05),
    /**
     * No worker below this utilisation counts as hot: while every worker has this much headroom the
     * planner neither splits for balance nor moves leaves (each move costs a partition transfer).
     * Default 0.2.
     */
    idleBelow: z.number().min(0).lt(1).default(0.2),
    /** A move or shift must lower the pair's higher utilisation by at least this × mean. Default 0.02. */
    minGain: z.number().nonnegative().default(0.02),
    /** Never grow a worker's partitions past this fraction of its capacity. Default 0.9. */
    safetyFraction: fraction.default(0.9),
    /** Split a leaf heavier than this × its owner's fair share when the owner is hot. Default 0.5. */
    splitAbove: positive.default(0.5),
    /** Split any leaf heavier than this fraction of its owner's capacity, hot or not. Default 0.5. */
    maxLeafFraction: positive.default(0.5),
    /** Merge sibling leaves whose joint load is below this × the receiver's fair share. Default 0.15. */
    mergeBelow: z.number().nonnegative().default(0.15),
    /** K: at most this many balancing moves (owner changes between live workers) per round. Default 32. */
    maxMovesPerRound: count.default(32),
    /** Ownership changes that empty draining workers, per round. Default: unlimited. */
    maxDrainMovesPerRound: count.default(Number.MAX_SAFE_INTEGER),
    /** Splits per round (a hot leaf may be split several times in one round). Default 64. */
    maxSplitsPerRound: count.default(64),
    /** Merges per round. Default 16. */
    maxMergesPerRound: count.default(16),
    /**
     * Cold siblings merge only once no worker has been hot for this many seconds: merging is
     * housekeeping, and each merge hands both halves' entities to a new partition, so it waits
     * for the cluster to be calm (an autoscaler's scale-down stabilisation window). Default 10.
     */
    mergeCalmS: seconds.default(10),
    /** Border shifts per round. Default 32. */
    maxShiftsPerRound: count.default(32),
    /**
     * How long one planning round stands for, in ms: the coordinator's planning interval. The
     * planner's only clock is the round number; cooldowns are set in seconds and counted in rounds
     * of this length, so planning more often does not shorten them. Default 1000.
     */
    roundMs: positive.default(1000),
    /** A moved or merged leaf stays where it is for this many seconds. Default 3. */
    partitionCooldownS: seconds.default(3),
    /** A leaf moved for balance does not go back to the worker it left for this many seconds. Default 10. */
    returnCooldownS: seconds.default(10),
    /** A border may not reverse direction within this many seconds of its last shift. Default 10. */
    borderCooldownS: seconds.default(10),
    /**
     * Weight of a second's worth of new reports when load rises (fast reaction to crowds); a round
     * of `roundMs` weighs a new report 1 − (1 − this)^(roundMs / 1000), so planning more often does
     * not let more noise through. Default 0.8.
     */
    smoothingUp: fraction.default(0.8),
    /** The same when load falls (a little slower than rises). Default 0.7. */
    smoothingDown: fraction.default(0.7),
    /**
     * A worker counts as hot (its leaves are split, moved or its borders shifted for balance) only
     * once it has been above the trigger for this long: that many rounds in a row, at least one.
     * Measurement noise rarely lasts a second; a crowd does. Default 1.
     */
    confirmHotS: seconds.default(1),
    /** Largest border step, as a fraction of the two leaves' joint extent on the axis. Default 0.125. */
    shiftMaxStep: fraction.default(0.125),
    /** Smallest border step (a step halves on every reversal down to this). Default 1/64. */
    shiftMinStep: fraction.default(1 / 64),
    /** Utilisation the autoscaler should aim at when it adds or removes workers. Default 0.7. */
    targetUtilization: fraction.default(0.7),
    /** Ask for fewer workers when total load is below this fraction of total capacity. Default 0.35. */
    scaleDownBelow: z.number().nonnegative().lt(1).default(0.35),
    /** Never ask to go below this many workers. Default 1. */
    minWorkers: count.default(1),
  })
  .refine((c) => c.mergeBelow * 2 < c.splitAbove, 'mergeBelow must be well below splitAbove (hysteresis)')
  .refine((c) => c.balanceTrigger < c.imbalanceBound, 'balanceTrigger must lie below imbalanceBound')
  .refine((c) => c.shiftMinStep <= c.shiftMaxStep, 'shiftMinStep must not exceed shiftMaxStep')

export type PlannerConfig = Readonly<z.output<typeof schema>>
export type PlannerConfigInput = z.input<typeof schema>

/** Parses, defaults and checks planner options; throws a `ZodError` naming every bad field. */
export function plannerConfig(partial: PlannerConfigInput = {}): PlannerConfig {
  return Object.freeze(schema.parse(partial))
}

/** A cooldown of `seconds` in rounds of `roundMs` (rounded up: a cooldown is never cut short). */
export function cooldownRounds(config: PlannerConfig, seconds: number): number {
  // The epsilon keeps 3 s at 1000 ms from becoming 4 rounds through floating-point error.
  return Math.ceil((seconds * 1000) / config.roundMs - 1e-9)
}

/** Rounds in a row a worker must be above the trigger before it counts as hot (at least one). */
export function confirmRounds(config: PlannerConfig): number {
  return Math.max(1, Math.round((config.confirmHotS * 1000) / config.roundMs))
}

/** The weight of one round's report for a per-second weight `perSecond` (see `smoothingUp`). */
export function perRound(config: PlannerConfig, perSecond: number): number {
  return config.roundMs === 1000 ? perSecond : 1 - Math.pow(1 - perSecond, config.roundMs / 1000)
}

/** The narrowest a partition may become: twice the ghost margin. */
export function minWidth(config: PlannerConfig): number {
  return 2 * config.ghostMargin
}
