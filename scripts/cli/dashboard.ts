/** Where `tessera dev` and `tessera coordinator` find the built web dashboard by default. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** The repository's `web-dashboard/dist` when it has been built (`npm run build:dashboard`), else undefined. */
export function builtDashboardDir(): string | undefined {
  const dir = join(import.meta.dirname, '..', '..', 'web-dashboard', 'dist')
  return existsSync(join(dir, 'index.html')) ? dir : undefined
}
