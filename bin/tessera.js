#!/usr/bin/env node
// Tessera runs from its TypeScript sources: tsx compiles each module as it loads.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../scripts/cli/main.ts')
const { exitWhenStopped } = await import('../scripts/cli/exit.ts')
exitWhenStopped(await main(process.argv.slice(2)))
