// glibc malloc tuning for the commands that move bulk data (`get`, `add`, `serve`, ...), applied by
// the `tensorswap` shim (./tensorswap.js) before anything else loads.
//
// Why: every block a transfer moves is a fresh Buffer (socket chunks, TLS records, a block's
// frame, file reads), ~1 MiB per 1 MiB block on each side. glibc serves those from memory that
// the kernel must fault in page by page, and by default hands freed memory back (munmap, heap
// trim), so the next block faults again. On VMs where a page fault is expensive (this project's
// machine: 256 MiB of fresh Buffers take ~800 ms to touch, the same memory reused ~30 ms) that
// was a large part of a fetch. The fix: transparent huge pages on malloc's memory (one fault per
// 2 MiB instead of per 4 KiB) and freed memory kept for reuse (no mmap under 64 MiB, no trim
// under 256 MiB free); the figures are in bench/README.md "glibc malloc tuning".
//
// glibc reads GLIBC_TUNABLES only when a process starts, so the shim re-executes Node once, in
// place (`process.execve`: same PID, same stdio, signals and exit codes as before), with the
// variable set. ~70 ms, only for the commands in BULK_COMMANDS. Not applied when the user's own
// GLIBC_TUNABLES already sets a `glibc.malloc.` tunable, when TENSORSWAP_MALLOC_TUNING=0, off
// Linux, or on a Node without `process.execve` (< 22.15). musl ignores the variable.
// Programs that embed the library set it themselves: GLIBC_TUNABLES=<GLIBC_TUNABLES_FOR_BULK>.

/** The tunables set: THP for malloc, mmap threshold 64 MiB, trim threshold 256 MiB (bytes). */
export const GLIBC_TUNABLES_FOR_BULK = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456'

/** Commands that move bulk data (any of these words among the arguments re-executes). */
export const BULK_COMMANDS = new Set(['get', 'add', 'serve', 'push', 'export', 'car', 'verify'])

/**
 * The environment to re-execute with, or `undefined` when the process should run as it is.
 *
 * @param {string[]} args the command's arguments (process.argv without node and the script)
 * @param {Record<string, string | undefined>} env the current environment
 * @param {string} platform `process.platform`
 * @returns {Record<string, string | undefined> | undefined}
 */
export function mallocTuningEnv (args, env, platform) {
  if (platform !== 'linux' || env.TENSORSWAP_MALLOC_TUNING === '0') return undefined
  const current = env.GLIBC_TUNABLES ?? ''
  if (current.includes('glibc.malloc.')) return undefined // the user's own (or ours, after the re-exec)
  if (!args.some(a => BULK_COMMANDS.has(a))) return undefined
  return { ...env, GLIBC_TUNABLES: current === '' ? GLIBC_TUNABLES_FOR_BULK : `${current}:${GLIBC_TUNABLES_FOR_BULK}` }
}

/**
 * Re-execute this Node process in place with {@link mallocTuningEnv}'s environment when it
 * returns one; returns (doing nothing) otherwise. Does not return when it re-executes.
 * A failed execve(2) (e.g. E2BIG) is reported on stderr in one line and the command runs untuned.
 *
 * @throws whatever `process.execve` throws that is not a failed execve(2) (invalid arguments)
 */
export function reexecWithMallocTuning () {
  if (typeof process.execve !== 'function') return
  const env = mallocTuningEnv(process.argv.slice(2), process.env, process.platform)
  if (env === undefined) return
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env)
  } catch (err) {
    if (err?.syscall !== 'execve') throw err
    process.stderr.write(`tensorswap: running without malloc tuning (execve: ${err.code})\n`)
  }
}
