/**
 * Preloaded into every test file's process by `npm test` (`--import`): once the file's tests
 * have all finished, a process whose event loop is still held open (a leaked socket, timer or
 * child) exits `EXIT_AFTER_TESTS_MS` later with the runner's exit code instead of hanging the run.
 *
 * It replaces `--test-force-exit`, which loses results: under process isolation the flag makes a
 * file's process call `process.exit()` while its last test events are still buffered in the pipe
 * to the runner, so the runner reports fewer tests than ran, at exit code 0 (nodejs/node#64833,
 * open; here 133–154 of 154 GraphSync tests reported in five runs, a whole `describe` of
 * selector-limit tests missing from a CI run). The timer is unref'd, so a file whose loop
 * drains exits at once as before, and by the time it fires the events have long been read.
 */
import { after } from 'node:test'

/** How long a file's process may stay alive after its last test, ms. */
export const EXIT_AFTER_TESTS_MS = 5000

after(() => {
  setTimeout(() => { process.exit() }, EXIT_AFTER_TESTS_MS).unref()
})
