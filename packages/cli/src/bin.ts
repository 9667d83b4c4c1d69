#!/usr/bin/env node
/**
 * The `tensorswap` command. Each command lives in `src/commands/<name>.ts` and is loaded lazily,
 * so `tensorswap --help` stays fast.
 */
import { Command, CommanderError, Option } from 'commander'
import { tuneGcForBulkTransfer } from 'tensorswap/gc-tuning'
import { exitCodeFor, printError, type GlobalOptions } from './output.js'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`tensorswap: needs Node >= 22 (this is ${process.versions.node}); run it through npx or npm scripts, which use the project's own Node\n`)
  process.exit(1)
}

// bulk transfers: V8 collects on heap growth, not on every few MiB of Buffers (src/gc-tuning.ts
// in the tensorswap package; imported from its own module so `--help` does not load libp2p)
tuneGcForBulkTransfer()

const program = new Command('tensorswap')
  .description('Content-addressed exchange for ML model weights')
  .addOption(new Option('--repo <dir>', 'repo directory (default: $TENSORSWAP_PATH or ~/.tensorswap)'))
  .option('--json', 'print one JSON object on stdout')
  .option('-q, --quiet', 'no progress or diagnostics on stderr')
  .showHelpAfterError()
  .exitOverride()

/** Merge the global options into a command's own options. */
function opts<T extends object> (cmd: Command): GlobalOptions & T {
  return cmd.optsWithGlobals() as GlobalOptions & T
}

program.command('add')
  .description('import a model file or directory; prints the root CID last')
  .argument('<path>', 'file or directory')
  .option('--name <name>', 'model name stored in the manifest')
  .action(async (path: string, _o, cmd: Command) => { await (await import('./commands/add.js')).add(path, opts(cmd)) })

program.command('ls')
  .description('list a model\'s files and tensors')
  .argument('<cid>', 'manifest, UnixFS directory or file CID')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/ls.js')).ls(cid, opts(cmd)) })

program.command('export')
  .description('write a model\'s files byte-exact into a directory')
  .argument('<cid>', 'manifest, UnixFS directory or file CID')
  .requiredOption('-o, --output <dir>', 'output directory')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/export.js')).exportCommand(cid, opts(cmd)) })

const car = program.command('car').description('move DAGs in and out as CAR files')
car.command('export')
  .description('write a DAG as a CARv1 file (blocks in DFS order)')
  .argument('<cid>', 'root CID')
  .requiredOption('-o, --output <file>', 'CAR file to write')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/car.js')).carExport(cid, opts(cmd)) })
car.command('import')
  .description('import a CARv1/CARv2 file, verifying every block')
  .argument('<file>', 'CAR file')
  .action(async (file: string, _o, cmd: Command) => { await (await import('./commands/car.js')).carImport(file, opts(cmd)) })

/** Collect a repeatable option. */
function collect (value: string, previous: string[] = []): string[] { return [...previous, value] }

program.command('serve')
  .description('run a node: serve blocks over Bitswap, /tensorswap/1.0.0 and GraphSync until SIGINT/SIGTERM')
  .option('--listen <multiaddr>', 'listen address (repeatable; default: the repo config)', collect)
  .option('--gateway <host:port>', 'serve the trustless HTTP gateway and /metrics here')
  .option('--gateway-fetch', 'let the gateway fetch missing blocks from connected peers')
  .option('--bulk-listen <multiaddr>', 'where to accept bulk lanes, /ip4|ip6/HOST/tcp/PORT (repeatable; default: port 0 on the listen hosts)', collect)
  .option('--no-bulk-lane', 'send blocks on libp2p streams only (no direct TLS bulk lane)')
  // testing interop paths: a Bitswap-only node (spec/graphsync.md "Bitswap fallback")
  .addOption(new Option('--no-graphsync', 'do not serve or use GraphSync (Bitswap only)').hideHelp())
  .action(async (_o, cmd: Command) => { await (await import('./commands/serve.js')).serve(opts(cmd)) })

program.command('get')
  .description('fetch a model from peers, verify every block, write the files byte-exact')
  .argument('<cid>', 'root CID (manifest or UnixFS)')
  .requiredOption('-o, --output <dir>', 'output directory')
  .option('--peer <multiaddr>', 'peer to fetch from, ending in /p2p/<id> (repeatable)', collect)
  .option('--gateway-source <url>', 'trustless gateway to fetch from, alone or behind the peers (repeatable)', collect)
  .option('--tensors <glob>', 'only the tensors whose names match (GraphSync, else Bitswap); one raw file per tensor')
  .option('--layers <A-B>', 'only the tensors of layers A..B (GraphSync, else Bitswap)')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/get.js')).get(cid, opts(cmd)) })

const dag = program.command('dag').description('IPLD blocks in the repo')
dag.command('put')
  .argument('[file]', 'DAG-JSON file (default: stdin)')
  .description('store DAG-JSON as one DAG-CBOR block; prints its CID')
  .action(async (file: string | undefined, _o, cmd: Command) => { await (await import('./commands/dag.js')).dagPut(file, opts(cmd)) })
dag.command('get')
  .argument('<cid>')
  .description('print a block as DAG-JSON')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/dag.js')).dagGet(cid, opts(cmd)) })
dag.command('walk')
  .argument('<cid>')
  .requiredOption('-s, --selector <dag-json>', 'IPLD selector as DAG-JSON, e.g. \'{"R":{"l":{"none":{}},":>":{"|":[{".":{}},{"a":{">":{"@":{}}}}]}}}\'')
  .description('traverse with a selector; one JSON line per visited node')
  .action(async (cid: string, _o, cmd: Command) => { await (await import('./commands/dag.js')).dagWalk(cid, opts<{ selector: string }>(cmd)) })

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version exit 0; commander already printed the usage error
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    printError(err)
    process.exitCode = exitCodeFor(err)
  }
}
