/**
 * Every command that takes `--repo`, by API name (`POST /api/v1/<name>`, spec/api.md §5),
 * loaded lazily so `tensorswap --help` stays fast.
 */
import type { CommandSpec } from '../command.js'

/** API name → loader of its {@link CommandSpec}. */
export const COMMANDS: Readonly<Record<string, () => Promise<CommandSpec>>> = Object.freeze({
  init: async () => (await import('./init.js')).initCommand,
  add: async () => (await import('./add.js')).addCommand,
  ls: async () => (await import('./ls.js')).lsCommand,
  export: async () => (await import('./export.js')).exportCommand,
  get: async () => (await import('./get.js')).getCommand,
  push: async () => (await import('./push.js')).pushCommand,
  diff: async () => (await import('./diff.js')).diffCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  'pin/add': async () => (await import('./pin.js')).pinAddCommand,
  'pin/rm': async () => (await import('./pin.js')).pinRmCommand,
  'pin/ls': async () => (await import('./pin.js')).pinLsCommand,
  gc: async () => (await import('./pin.js')).gcCommand,
  providers: async () => (await import('./providers.js')).providersCommand,
  stat: async () => (await import('./stat.js')).statCommand,
  peers: async () => (await import('./peers.js')).peersCommand,
  'car/export': async () => (await import('./car.js')).carExportCommand,
  'car/import': async () => (await import('./car.js')).carImportCommand,
  'dag/put': async () => (await import('./dag.js')).dagPutCommand,
  'dag/get': async () => (await import('./dag.js')).dagGetCommand,
  'dag/walk': async () => (await import('./dag.js')).dagWalkCommand
})

/** Load a command's spec, or `undefined` for a name that is not one. */
export async function loadCommand (name: string): Promise<CommandSpec | undefined> {
  return Object.hasOwn(COMMANDS, name) ? await COMMANDS[name]() : undefined
}
