// `npm start` under a supervisor and in a terminal: the signal goes to the outermost process (npm,
// or npm's whole process group for a terminal's Ctrl-C); the server stops cleanly (exit 0, no
// "second signal"), nothing stays behind and the port is free again.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { reservePorts } from '../support/ports.js'
import { ROOT, alive, cleanup, descendants, memberFlags, portFree, spawnProc, tempDir, tryKill, waitFor, waitServing, within } from './proc.js'

const signals = suite('signals under npm')
signals.after(cleanup)

function newest(dir: string): number {
  let t = 0
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    const st = statSync(full)
    t = Math.max(t, st.isDirectory() ? newest(full) : name.endsWith('.ts') ? st.mtimeMs : 0)
  }
  return t
}

/** `npm start` runs dist/: build it when the sources are newer (a fresh clone's `npm ci` builds it too). */
signals.before(() => {
  let built = 0
  try {
    built = statSync(join(ROOT, 'dist/server/cli.js')).mtimeMs
  } catch {
    // not built yet
  }
  if (built < Math.max(newest(join(ROOT, 'server')), newest(join(ROOT, 'src')))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit', timeout: 240_000 })
  }
})

async function npmStart(): Promise<{ npm: ReturnType<typeof spawnProc>; port: number; server: number }> {
  const [c, p] = await reservePorts(2)
  const dir = join(tempDir(), 'npm.etcd')
  // own process group, as a terminal or a supervisor would start it
  const npm = spawnProc('npm', ['start', '--', ...memberFlags(dir, c!, p!)], { group: true })
  await waitServing(`http://127.0.0.1:${c}`, 60_000)
  const tree = descendants(npm.pid)
  const server = tree.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/server/cli.js')
    } catch {
      return false
    }
  })
  assert.ok(server, `the server runs under npm (descendants ${tree.join(',')})`)
  return { npm, port: c!, server: server! }
}

async function assertAllGone(npm: ReturnType<typeof spawnProc>, server: number, port: number, tree: number[]): Promise<void> {
  const { code } = await within(npm.exited, 20_000, 'npm exits')
  await waitFor(() => !alive(server), 10_000, 'server process gone')
  for (const pid of tree) assert.not.ok(alive(pid), `pid ${pid} of npm's tree still runs`)
  assert.ok(await portFree(port), 'the client port is free again')
  assert.match(npm.out(), /"msg":"stopped"/, 'the server stopped cleanly')
  assert.not.match(npm.out(), /second signal/)
  assert.is(code, 0, `npm exit code (stderr: ${npm.err()})`)
}

signals('SIGTERM to `npm start` stops the server cleanly; no process is left and the port is free', async () => {
  const { npm, port, server } = await npmStart()
  const tree = descendants(npm.pid)
  tryKill(npm.pid, 'SIGTERM')
  await assertAllGone(npm, server, port, tree)
  assert.match(npm.out(), /"signal":"SIGTERM","msg":"received signal, shutting down"/)
})

signals("a terminal's Ctrl-C (SIGINT to npm's whole process group) is one stop, not two", async () => {
  const { npm, port, server } = await npmStart()
  const tree = descendants(npm.pid)
  // The terminal signals every process of the group; npm also relays the SIGINT to the server.
  tryKill(-npm.pid, 'SIGINT')
  await assertAllGone(npm, server, port, tree)
  assert.match(npm.out(), /"signal":"SIGINT","msg":"received signal, shutting down"/)
})

signals('SIGINT to `npm start` (a program that started it) stops it too', async () => {
  const { npm, port, server } = await npmStart()
  const tree = descendants(npm.pid)
  tryKill(npm.pid, 'SIGINT')
  await assertAllGone(npm, server, port, tree)
})

signals.run()
