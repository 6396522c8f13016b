// One member per data dir: a second member on a held dir is refused (naming the dir and the
// holder's pid) without touching it; a member killed with kill -9 restarts at once on its dir; a
// stale lock file (dead pid, reused pid, other boot) is taken over; one from another host is not;
// a dir whose WAL another process has open for writing is refused.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { LOCK_FILE, lockDataDir } from '../../server/data-dir-lock.js'
import { StartupError } from '../../server/startup-error.js'
import { reservePorts } from '../support/ports.js'
import { cleanup, memberFlags, portFree, raftkv, tempDir, treeDigest, waitFor, waitServing, within } from './proc.js'

const lock = suite('data dir lock')
lock.after(cleanup)

async function refusal(p: Promise<unknown>): Promise<StartupError> {
  try {
    await p
  } catch (e) {
    if (e instanceof StartupError) return e
    throw e
  }
  throw new Error('expected a StartupError')
}

lock('a second member on a held dir is refused with the holder pid, and the dir is left untouched', async () => {
  const dir = join(tempDir(), 'm.etcd')
  const [c1, p1, c2, p2] = await reservePorts(4)
  const a = raftkv(memberFlags(dir, c1!, p1!))
  await waitServing(`http://127.0.0.1:${c1}`)
  const put = await fetch(`http://127.0.0.1:${c1}/v2/keys/k`, { method: 'PUT', body: new URLSearchParams({ value: 'A' }) })
  assert.is(put.status, 201)
  const before = treeDigest(dir)

  // other ports, same dir; then the same ports too: the lock is checked before anything else
  for (const [c, p] of [[c2!, p2!], [c1!, p1!]]) {
    const b = raftkv(memberFlags(dir, c, p))
    const { code } = await within(b.exited, 30_000, 'second member exit')
    assert.is(code, 1)
    assert.is(b.err(), `raftkv: error: --data-dir '${dir}': in use by another raftkv member (pid ${a.pid})\n`)
    assert.not.match(b.out(), /restarting member|bootstrapping/, 'the second member never read the WAL')
    assert.is(treeDigest(dir), before, 'the held dir is untouched')
  }
  assert.ok(await portFree(c2!), 'the refused member bound nothing')
  // the holder still serves
  const got = (await (await fetch(`http://127.0.0.1:${c1}/v2/keys/k?quorum=true`)).json()) as { node: { value: string } }
  assert.is(got.node.value, 'A')
  a.child.kill('SIGTERM')
  assert.is((await within(a.exited, 15_000, 'holder exit')).code, 0)
  assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'a clean stop removes the lock file')
})

lock('a member killed with kill -9 restarts at once on its dir, with its acknowledged writes', async () => {
  const dir = join(tempDir(), 'k.etcd')
  const [c, p] = await reservePorts(2)
  const url = `http://127.0.0.1:${c}`
  const a = raftkv(memberFlags(dir, c!, p!))
  await waitServing(url)
  assert.is((await fetch(`${url}/v2/keys/k`, { method: 'PUT', body: new URLSearchParams({ value: 'kept' }) })).status, 201)
  a.child.kill('SIGKILL')
  await within(a.exited, 10_000, 'kill -9')
  const left = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }
  assert.is(left.pid, a.pid, 'kill -9 leaves the lock file behind')

  const b = raftkv(memberFlags(dir, c!, p!))
  await waitServing(url)
  assert.not.match(b.err(), /in use/)
  const got = (await (await fetch(`${url}/v2/keys/k?quorum=true`)).json()) as { node: { value: string } }
  assert.is(got.node.value, 'kept')
  const now = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }
  assert.is(now.pid, b.pid, 'the new member took the stale lock over')
  b.child.kill('SIGTERM')
  assert.is((await within(b.exited, 15_000, 'exit')).code, 0)
})

lock('--wal-dir is locked too: a second member with its own data dir but the same WAL dir is refused', async () => {
  const base = tempDir()
  const wal = join(base, 'wal')
  const [c1, p1, c2, p2] = await reservePorts(4)
  const a = raftkv([...memberFlags(join(base, 'a.etcd'), c1!, p1!), '--wal-dir', wal])
  await waitServing(`http://127.0.0.1:${c1}`)
  const before = treeDigest(wal)
  const other = join(base, 'b.etcd')
  const b = raftkv([...memberFlags(other, c2!, p2!), '--wal-dir', wal])
  assert.is((await within(b.exited, 30_000, 'second member exit')).code, 1)
  assert.is(b.err(), `raftkv: error: --wal-dir '${wal}': in use by another raftkv member (pid ${a.pid})\n`)
  assert.is(treeDigest(wal), before, 'the held WAL dir is untouched')
  assert.not.ok(existsSync(other), 'the data dir the refused start created is removed again')
  a.child.kill('SIGTERM')
  assert.is((await within(a.exited, 15_000, 'holder exit')).code, 0)
})

lock('in one process: a second lock on the same dir is refused; released, it can be taken again', async () => {
  const dir = join(tempDir(), 'x')
  const first = await lockDataDir(dir)
  const e = await refusal(lockDataDir(dir))
  assert.is(e.message, `--data-dir '${dir}': in use by another raftkv member (pid ${process.pid})`)
  // the same dir through another path is the same lock
  const alias = join(dir, '..', 'alias')
  symlinkSync(dir, alias)
  const e2 = await refusal(lockDataDir(alias))
  assert.match(e2.message, /in use by another raftkv member/)
  await first.release()
  assert.not.ok(existsSync(join(dir, LOCK_FILE)))
  const again = await lockDataDir(dir)
  await again.release()
})

function writeLock(dir: string, info: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(info) + '\n')
}

function myStartTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
}

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
}

lock('stale lock files are taken over: dead pid, pid reused by another process, another boot, damaged file', async () => {
  const base = tempDir()
  // a pid that is certainly dead: a child that already exited
  const dead = spawn(process.execPath, ['-e', ''])
  await new Promise((r) => dead.on('exit', r))
  const cases: [string, Record<string, unknown> | string][] = [
    ['dead pid', { pid: dead.pid, host: hostname(), bootId: bootId(), bootTime: 0, startTicks: 1 }],
    ['pid reused (this test process, another start time)', { pid: process.pid, host: hostname(), bootId: bootId(), bootTime: 0, startTicks: myStartTicks() + 12345 }],
    ['another boot', { pid: process.pid, host: hostname(), bootId: '00000000-0000-0000-0000-000000000000', bootTime: 0, startTicks: myStartTicks() }],
    ['damaged', '{"pid": 12'],
  ]
  for (const [what, info] of cases) {
    const dir = join(base, what.replace(/\W+/g, '-'))
    if (typeof info === 'string') {
      mkdirSync(dir)
      writeFileSync(join(dir, LOCK_FILE), info)
    } else writeLock(dir, info)
    const l = await lockDataDir(dir).catch((e: Error) => assert.unreachable(`${what}: ${e.message}`))
    const now = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; startTicks: number }
    assert.is(now.pid, process.pid, what)
    assert.is(now.startTicks, myStartTicks(), what)
    await l!.release()
  }
})

lock('a lock file whose holder is alive, or on another host, is respected', async () => {
  const base = tempDir()
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
  try {
    await waitFor(() => existsSync(`/proc/${holder.pid}/stat`), 5000, 'holder started')
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8')
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    const liveDir = join(base, 'live')
    writeLock(liveDir, { pid: holder.pid, host: hostname(), bootId: bootId(), bootTime: 0, startTicks: ticks })
    const e = await refusal(lockDataDir(liveDir))
    assert.is(e.message, `--data-dir '${liveDir}': in use by another raftkv member (pid ${holder.pid})`)

    const otherDir = join(base, 'other')
    writeLock(otherDir, { pid: 4242, host: 'some-other-host', bootId: 'x', bootTime: 0, startTicks: 1 })
    const before = treeDigest(otherDir)
    const e2 = await refusal(lockDataDir(otherDir, 'wal-dir'))
    assert.match(e2.message, new RegExp(`^--wal-dir '${otherDir}': locked by pid 4242 on host some-other-host; if no raftkv member runs there on this dir, delete `))
    assert.is(treeDigest(otherDir), before)
  } finally {
    holder.kill('SIGKILL')
  }
})

lock('a dir whose WAL another process has open for writing is refused, naming that process', async () => {
  const dir = join(tempDir(), 'w')
  const walDir = join(dir, 'member', 'wal')
  mkdirSync(walDir, { recursive: true })
  const wal = join(walDir, '0000000000000000-0000000000000000.wal')
  writeFileSync(wal, '')
  // A writer that takes no lock (an old build, or a lock file deleted by hand).
  const writer = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(wal)}, 'a'); console.log('open'); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise((r) => writer.stdout!.once('data', r))
    const e = await refusal(lockDataDir(dir))
    assert.is(e.message, `--data-dir '${dir}': member/wal/0000000000000000-0000000000000000.wal is open for writing by another process (pid ${writer.pid})`)
    assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'the refused lock leaves no file')
  } finally {
    writer.kill('SIGKILL')
  }
  await new Promise((r) => writer.on('exit', r))
  const l = await lockDataDir(dir)
  await l.release()
})

lock.run()
