/**
 * Checks, from reads of several worker processes, that every entity has exactly one owner: it is
 * simulated by at most one partition in the cluster, out on offer at most once, and held somewhere
 * (simulated, or on offer while a handoff is in flight; both at once only in the moment between
 * the receiver's acceptance and the sender hearing of it).
 *
 * Reads of different processes are not simultaneous: an entity handed from A to B between the
 * read of A and the read of B shows up twice, or not at all. So a sample is two rounds, each
 * reading every worker once, one round after the other. An entity whose holding at every worker
 * is the same in both rounds is *settled*, and for it the two rounds show the true state of the
 * cluster at one instant (any moment between the rounds): every worker's two reads surround that
 * moment, and a holding that looks the same at both reads did not change in between (a holding
 * only moves forward — simulated, offered, gone — except when it comes back, which takes an
 * entity several seconds of walking, far longer than a sample). Settled entities must have
 * exactly one owner; unsettled ones moved during the sample and are judged at the next.
 *
 * A real duplicate (an entity simulated on two workers) or a real loss (held nowhere) lasts, so it
 * is settled, seen and reported. `tests/unit/ownership-audit.test.ts` shows both being caught.
 */

/** Where one worker holds an entity: simulated in a partition, or out on offer. */
export type Holding = { kind: 'sim'; partitionId: string } | { kind: 'offer' }

/** One worker's answer: every entity it holds, with how (an entity may appear twice if buggy). */
export interface WorkerRead {
  workerId: string
  holdings: ReadonlyArray<{ entityId: number; holding: Holding }>
}

export interface SampleVerdict {
  /** Entities whose holdings were the same in both rounds (judged). */
  settled: number
  /** Entities that moved during the sample (not judged this time). */
  unsettled: number
  /** What was wrong, one line per entity. */
  problems: string[]
  /** Settled entities by the worker simulating them (for handoff counting and reports). */
  owners: Map<number, string>
}

/** The holdings of one entity at one worker, as a comparable string (e.g. `sim:p3`, `offer`). */
function describe(read: WorkerRead | undefined, entityId: number): string {
  if (!read) return ''
  return read.holdings
    .filter((h) => h.entityId === entityId)
    .map((h) => (h.holding.kind === 'sim' ? `sim:${h.holding.partitionId}` : 'offer'))
    .sort()
    .join(',')
}

/**
 * Judges one sample: `first` and `second` are the two rounds (one read per worker, in the same
 * worker order); `expected` the entity ids that must exist (none may appear or vanish).
 */
export function judgeSample(first: readonly WorkerRead[], second: readonly WorkerRead[], expected: ReadonlySet<number>): SampleVerdict {
  const ids = new Set<number>(expected)
  for (const read of [...first, ...second]) for (const h of read.holdings) ids.add(h.entityId)
  const workers = [...new Set([...first, ...second].map((r) => r.workerId))]
  const verdict: SampleVerdict = { settled: 0, unsettled: 0, problems: [], owners: new Map() }
  for (const id of [...ids].sort((a, b) => a - b)) {
    const at = new Map<string, string>()
    let moved = false
    for (const w of workers) {
      const a = describe(first.find((r) => r.workerId === w), id)
      const b = describe(second.find((r) => r.workerId === w), id)
      if (a !== b) moved = true
      if (a !== '') at.set(w, a)
    }
    if (moved) {
      verdict.unsettled++
      continue
    }
    verdict.settled++
    const sims: string[] = []
    let offers = 0
    for (const [w, d] of at) {
      for (const part of d.split(',')) {
        if (part === 'offer') offers++
        else sims.push(`${w}:${part.slice('sim:'.length)}`)
      }
    }
    const where = [...at].map(([w, d]) => `${w}[${d}]`).join(' ') || 'nowhere'
    if (!expected.has(id)) verdict.problems.push(`entity ${id} appeared from nowhere (${where})`)
    else if (sims.length + offers === 0) verdict.problems.push(`entity ${id} is lost: held nowhere`)
    if (sims.length > 1) verdict.problems.push(`entity ${id} is simulated ${sims.length} times: ${where}`)
    if (offers > 1) verdict.problems.push(`entity ${id} is on offer ${offers} times: ${where}`)
    const owner = sims[0]?.split(':')[0]
    if (owner !== undefined) verdict.owners.set(id, owner)
  }
  return verdict
}
