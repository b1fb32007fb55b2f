// Prints `tests: N passed, M failed` from vitest's JSON report; exits 1 when any test failed or no
// test ran (a suite that runs nothing proves nothing).
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.vitest-report.json'
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`no test report at ${file}: ${err.message}`)
  console.log('tests: 0 passed, 1 failed')
  process.exit(1)
}
const passed = report.numPassedTests ?? 0
const failed = report.numFailedTests ?? 0
// A file can fail outside its tests (a hook timed out, it did not load): count each such file once.
const suitesFailed =
  report.testResults?.filter((r) => r.status === 'failed' && !(r.assertionResults ?? []).some((a) => a.status === 'failed')).length ?? 0
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`tests: ${passed} passed, ${failed + suitesFailed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed + suitesFailed > 0 || passed === 0 ? 1 : 0)
