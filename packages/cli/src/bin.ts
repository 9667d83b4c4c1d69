#!/usr/bin/env node
/**
 * The `tensorswap` command. Each command lives in `src/commands/<name>.ts` and is loaded lazily,
 * so `tensorswap --help` stays fast.
 */
import { Command, CommanderError, Option } from 'commander'
import { tuneGcForBulkTransfer } from 'tensorswap/gc-tuning'
import { cliVersion } from './version.js'
import { exitCodeFor, printError, printUsageError, type GlobalOptions } from './output.js'
import { addLimitOptions } from './limits.js'

// stdout closed early (`tensorswap ls <cid> --json | head -c 10`): the reader has what it
// wanted, so exit quietly with status 0 instead of an EPIPE stack trace (as `git log | head` does)
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

// bulk transfers: V8 collects on heap growth, not on every few MiB of Buffers (src/gc-tuning.ts
// in the tensorswap package; imported from its own module so `--help` does not load libp2p)
tuneGcForBulkTransfer()

const program = new Command('tensorswap')
  .description('Content-addressed exchange for ML model weights')
  .version(cliVersion(), '-V, --version', 'print the version')
  .addOption(new Option('--repo <dir>', 'repo directory (default: $TENSORSWAP_PATH or ~/.tensorswap)'))
  .option('--json', 'print one JSON object on stdout')
  .option('-q, --quiet', 'no progress or diagnostics on stderr')
  // usage errors are printed as one line by printUsageError below, not by commander with the help
  .configureOutput({ outputError: () => {} })
  .exitOverride()


/** Merge the global options into a command's own options. */
function opts<T extends object> (cmd: Command): GlobalOptions & T {
  return cmd.optsWithGlobals() as GlobalOptions & T
}

/**
 * The action of a command that takes `--repo`: its positional arguments (named `args`) and its
 * own flags become the API options of command `name` (src/commands/registry.ts), run through
 * the daemon when one serves the repo, else here (src/run.ts).
 */
function act (name: string, ...args: string[]) {
  return async (...values: unknown[]): Promise<void> => {
    const cmd = values[values.length - 1] as Command
    const options: Record<string, unknown> = { ...cmd.opts() }
    args.forEach((arg, i) => { options[arg] = values[i] })
    const g = cmd.optsWithGlobals() as GlobalOptions
    await (await import('./run.js')).runCommand(name, options, { repo: g.repo, json: g.json, quiet: g.quiet })
  }
}

program.command('init')
  .description('create the repo (add, get and serve create it too; other commands need one)')
  .addHelpText('after', '\nExample:\n  tensorswap init --repo ./repo')
  .action(act('init'))

program.command('add')
  .description('import a model file or directory; prints the root CID last')
  .argument('<path>', 'file or directory')
  .option('--name <name>', 'model name stored in the manifest')
  .option('--no-copy', 'reference the files in place instead of copying them into the repo (re-checked on every read)')
  .addHelpText('after', '\nExample:\n  tensorswap add ./model-dir                 # prints the root CID last\n  tensorswap add model.safetensors --json   # {"root":"bafy...","files":[...],"tensors":[...],...}')
  .action(act('add', 'path'))

program.command('ls')
  .description('list a model\'s files and tensors')
  .argument('<cid>', 'manifest, UnixFS directory or file CID')
  .addHelpText('after', '\nExample:\n  tensorswap ls bafy...          # files, then tensors (name dtype shape bytes)\n  tensorswap ls bafy... --json')
  .action(act('ls', 'cid'))

program.command('export')
  .description('write a model\'s files byte-exact into a directory')
  .argument('<cid>', 'manifest, UnixFS directory or file CID')
  .requiredOption('-o, --output <dir>', 'output directory (`-`: a single file to stdout)')
  .addHelpText('after', '\nExample:\n  tensorswap export bafy... -o ./out\n  tensorswap export bafy... -o - > model.safetensors   # a single-file root to stdout')
  .action(act('export', 'cid'))

const car = program.command('car').description('move DAGs in and out as CAR files')
car.command('export')
  .description('write a DAG as a CARv1 file (blocks in DFS order)')
  .argument('<cid>', 'root CID')
  .requiredOption('-o, --output <file>', 'CAR file to write (`-`: stdout)')
  .option('--files', 'only the model\'s UnixFS files (the CAR root is the files root: `ipfs-car unpack` writes them)')
  .addHelpText('after', '\nExample:\n  tensorswap car export bafy... -o model.car\n  tensorswap car export bafy... -o - | ssh host tensorswap car import -')
  .action(act('car/export', 'cid'))
car.command('import')
  .description('import a CARv1/CARv2 file, verifying every block')
  .argument('<file>', 'CAR file (`-`: stdin)')
  .addHelpText('after', '\nExample:\n  tensorswap car import model.car   # every block verified; prints the roots')
  .action(act('car/import', 'file'))

/** Collect a repeatable option. */
function collect (value: string, previous: string[] = []): string[] { return [...previous, value] }

addLimitOptions(program.command('serve'))
  .description('run a node: serve blocks over Bitswap, /tensorswap/1.0.0 and GraphSync until SIGINT/SIGTERM')
  .option('--listen <multiaddr>', 'listen address (repeatable; default: the repo config)', collect)
  .option('--gateway <host:port>', 'serve the trustless HTTP gateway and /metrics here')
  .option('--gateway-fetch', 'let the gateway fetch missing blocks from connected peers')
  .option('--bulk-listen <multiaddr>', 'where to accept bulk lanes, /ip4|ip6/HOST/tcp/PORT (repeatable; default: port 0 on the listen hosts)', collect)
  .option('--no-bulk-lane', 'send blocks on libp2p streams only (no direct TLS bulk lane)')
  .option('--accept-push <peer-id>', 'fetch DAGs this peer pushes, or `any` (repeatable; default: refuse pushes)', collect)
  .option('--max-push-bytes <n>', 'largest DAG a push may announce, bytes (default 64 GiB)')
  // testing interop paths: a Bitswap-only node (spec/graphsync.md "Bitswap fallback")
  .addOption(new Option('--no-graphsync', 'do not serve or use GraphSync (Bitswap only)').hideHelp())
  .option('--bootstrap <multiaddr>', 'DHT bootstrap peer ending in /p2p/<id>, or "amino" for the public IPFS list (repeatable; added to the repo config\'s; default: none)', collect)
  .option('--mdns', 'discover peers on the local network with mDNS')
  .option('--dht-mode <mode>', 'auto | client | server (default: server on a LAN-only node, else auto)')
  .option('--reprovide-interval <ms>', 'provide the recorded roots again this often (default: 22 h)')
  .addOption(new Option('--wire-compression <mode>', 'compress blocks for TensorSwap peers where the link is slow enough for it to pay (spec/tensorswap.md §12)').choices(['off', 'auto']).default('auto'))
  .addHelpText('after', '\nExample:\n  tensorswap serve --listen /ip4/0.0.0.0/tcp/4001 --gateway 127.0.0.1:8080\n  tensorswap serve --bootstrap /ip4/10.0.0.2/tcp/4001/p2p/12D3Koo... --max-upload-rate 10M')
  .action(async (_o, cmd: Command) => { await (await import('./commands/serve.js')).serve(opts(cmd)) })

addLimitOptions(program.command('get'))
  .description('fetch a model from peers, verify every block, write the files byte-exact')
  .argument('<cid>', 'root CID: a manifest or UnixFS DAG (written with -o), or any IPLD DAG (dag-cbor, dag-json, dag-pb, raw) fetched into the repo')
  .option('-o, --output <dir>', 'output directory (default: into the repo only, as `ipfs pin add`)')
  .option('--peer <multiaddr>', 'peer to fetch from, ending in /p2p/<id> (repeatable; not needed when every block is local)', collect)
  .option('--gateway-source <url>', 'trustless gateway to fetch from, alone or behind the peers (repeatable)', collect)
  .option('--tensors <glob>', 'only the tensors whose names match (GraphSync, else Bitswap); one raw file per tensor')
  .option('--layers <A-B>', 'only the tensors of layers A..B (GraphSync, else Bitswap)')
  .option('--include <glob>', 'only the files whose path matches (repeatable; `*` crosses `/`, as huggingface-cli)', collect)
  .option('--exclude <glob>', 'not the files whose path matches (repeatable; over --include)', collect)
  .option('--timeout <seconds>', 'fail when no block arrives for this long, also after redialling the peers (default: 30)')
  .option('--bootstrap <multiaddr>', 'DHT bootstrap peer ending in /p2p/<id>, or "amino" (repeatable); without --peer, providers are found on the DHT', collect)
  .option('--mdns', 'discover peers on the local network with mDNS')
  .option('--find-timeout <ms>', 'how long to search for providers (default: 30 s)')
  .addHelpText('after', '\nExample:\n  tensorswap get bafy... -o ./out                                   # providers found on the DHT\n  tensorswap get bafy... -o ./out --peer /ip4/10.0.0.2/tcp/4001/p2p/12D3Koo...\n  tensorswap get bafy... -o ./out --include \"*.json\" --exclude \"optimizer/*\"\n  tensorswap get bafy... -o ./t --peer /ip4/... --layers 0-7')
  .action(act('get', 'cid'))

program.command('push')
  .description('ask a peer to fetch a DAG from this repo; waits until it holds the whole DAG')
  .argument('<cid>', 'root CID')
  .requiredOption('--peer <multiaddr>', 'the receiver, ending in /p2p/<id> (it must run serve --accept-push)')
  .addHelpText('after', '\nExample:\n  tensorswap push bafy... --peer /ip4/10.0.0.2/tcp/4001/p2p/12D3Koo... --json   # {"cid","peer","blocks","bytes","blocksAlreadyThere","seconds"}')
  .action(act('push', 'cid'))

program.command('diff')
  .description('compare two model manifests in the repo: tensors added, removed, changed, and the new chunk bytes')
  .argument('<cidA>', 'the older manifest')
  .argument('<cidB>', 'the newer manifest')
  .addHelpText('after', '\nExample:\n  tensorswap diff bafyOLD... bafyNEW...   # + added, - removed, ~ changed tensors')
  .action(act('diff', 'cidA', 'cidB'))

program.command('verify')
  .description('re-hash every block in the repo; from the given roots, also list missing blocks')
  .argument('[root...]', 'root CIDs whose DAGs must be complete')
  .option('--repair', 'delete corrupt blocks, so the next get fetches them again')
  .addHelpText('after', '\nExample:\n  tensorswap verify bafy... --json   # {"blocks":4995,"corrupt":0,"missing":0,...}; exit 1 if any')
  .action(act('verify', 'roots'))

const pin = program.command('pin').description('roots the repo keeps with everything below them (add and get pin theirs)')
pin.command('add').description('pin roots').argument('<cid...>', 'root CIDs')
  .addHelpText('after', '\nExample:\n  tensorswap pin add bafy...')
  .action(act('pin/add', 'cids'))
pin.command('rm').description('unpin roots (gc frees them); exit 1 when one was not pinned').argument('<cid...>', 'root CIDs')
  .addHelpText('after', '\nExample:\n  tensorswap pin rm bafy... && tensorswap gc')
  .action(act('pin/rm', 'cids'))
pin.command('ls').description('list the pinned roots')
  .addHelpText('after', '\nExample:\n  tensorswap pin ls --json   # {"pins":[{"cid":"bafy...","pinnedAt":"2026-12-03T..."}]}')
  .action(act('pin/ls'))

program.command('gc')
  .description('free every block no pin reaches; prints the blocks and bytes freed')
  .addHelpText('after', '\nExample:\n  tensorswap gc --json   # {"kept":120,"blocks":51,"bytes":50002563,"diskBytes":50002563,"missing":[]}')
  .action(act('gc'))

program.command('providers')
  .description('find the providers of a CID on the DHT; one line per provider: peer id, how found, addresses')
  .argument('<cid>', 'CID to look up')
  .option('--bootstrap <multiaddr>', 'DHT bootstrap peer ending in /p2p/<id>, or "amino" (repeatable; added to the repo config\'s)', collect)
  .option('--mdns', 'discover peers on the local network with mDNS')
  .option('--find-timeout <ms>', 'how long to search (default: 30 s)')
  .addHelpText('after', '\nExample:\n  tensorswap providers bafy... --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo... --json   # {"cid":"bafy...","providers":[{"peerId":"12D3Koo...","addrs":[...],"source":"dht"}],...}')
  .action(act('providers', 'cid'))

program.command('stat')
  .description('blocks and bytes in the repo, block bytes sent and received, connected peers')
  .addHelpText('after', '\nExample:\n  tensorswap stat --json   # {"repo":"...","online":true,"blocks":4995,"bytes":...,"bytesSent":...,"bytesReceived":...,"peers":2}')
  .action(act('stat'))

program.command('peers')
  .description('the daemon\'s connected peers: id, address, health, block bytes sent and received')
  .addHelpText('after', '\nExample:\n  tensorswap peers --json   # {"online":true,"peers":[{"peerId":"12D3Koo...","health":"ok","bytesSent":...,...}]}')
  .action(act('peers'))

const config = program.command('config').description('show or change the repo\'s config.json (read by the node at start; works while serve runs)')
config.command('show')
  .description('print config.json')
  .addHelpText('after', '\nExample:\n  tensorswap config show --json')
  .action(async (_o, cmd: Command) => { await (await import('./commands/config.js')).configShow(opts(cmd)) })
config.command('get')
  .description('print one key (exit 1 when it is not set)')
  .argument('<key>', 'listen, bootstrap, gateway, acceptPush, maxUploadRate, maxDownloadRate, maxUploadRatePerPeer, maxDownloadRatePerPeer (or kebab-case)')
  .addHelpText('after', '\nExample:\n  tensorswap config get bootstrap')
  .action(async (key: string, _o, cmd: Command) => { await (await import('./commands/config.js')).configGet(key, opts(cmd)) })
config.command('set')
  .description('set one key: lists as a JSON array or comma-separated, rates in bytes/s (2500000, 2.5M, 10MiB/s)')
  .argument('<key>', 'a config key (see `config get --help`)')
  .argument('<value>', 'the new value')
  .addHelpText('after', '\nExample:\n  tensorswap config set max-upload-rate 10M\n  tensorswap config set bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...')
  .action(async (key: string, value: string, _o, cmd: Command) => { await (await import('./commands/config.js')).configSet(key, value, opts(cmd)) })
config.command('unset')
  .description('remove an optional key')
  .argument('<key>', 'a config key other than listen')
  .addHelpText('after', '\nExample:\n  tensorswap config unset max-upload-rate')
  .action(async (key: string, _o, cmd: Command) => { await (await import('./commands/config.js')).configUnset(key, opts(cmd)) })

const dag = program.command('dag').description('IPLD blocks in the repo')
dag.command('put')
  .argument('[file]', 'DAG-JSON file (default: stdin)')
  .description('store DAG-JSON as one DAG-CBOR block; prints its CID')
  .addHelpText('after', '\nExample:\n  tensorswap dag put block.json   # DAG-JSON in; prints the CID of the DAG-CBOR block')
  .action(act('dag/put', 'file'))
dag.command('get')
  .argument('<cid>')
  .description('print a block as DAG-JSON')
  .addHelpText('after', '\nExample:\n  tensorswap dag get bafy...   # DAG-JSON on stdout')
  .action(act('dag/get', 'cid'))
dag.command('walk')
  .argument('<cid>')
  .requiredOption('-s, --selector <dag-json>', 'IPLD selector as DAG-JSON, e.g. \'{"R":{"l":{"none":{}},":>":{"|":[{".":{}},{"a":{">":{"@":{}}}}]}}}\'')
  .description('traverse with a selector; one JSON line per visited node')
  .addHelpText('after', '\nExample:\n  tensorswap dag walk bafy... --selector \'{"R":{"l":{"none":{}},":>":{"a":{">":{"@":{}}}}}}\' | head')
  .action(act('dag/walk', 'cid'))

program.command('completion')
  .description('print a bash completion script (commands and options; zsh: run bashcompinit first)')
  .addHelpText('after', '\nExample:\n  tensorswap completion > /etc/bash_completion.d/tensorswap   # every new shell\n  source <(tensorswap completion)                             # this shell')
  .action(async () => { process.stdout.write((await import('./completion.js')).bashCompletion(program)) })

const json = process.argv.includes('--json')
try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version exit 0
    if (err.exitCode !== 0) printUsageError(err, json)
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    printError(err, json)
    process.exitCode = exitCodeFor(err)
  }
}
