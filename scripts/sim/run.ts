/** `node --import tsx scripts/sim/run.ts [seed] [seconds]`: runs the cluster simulator and prints its report. */
import { runSimulation } from './simulator.ts'

const seed = Number(process.argv[2] ?? 1)
const seconds = Number(process.argv[3] ?? 180)
const { imbalance, ...report } = runSimulation({ seed, seconds })
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
process.stdout.write(`max/mean per second: ${imbalance.map((x) => x.toFixed(2)).join(' ')}\n`)
