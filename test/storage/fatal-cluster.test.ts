// A failing disk stops a member process of a 3-member cluster, leader or follower, and the other
// two go on. Each member runs with storage faults it gets through the test-only RAFTKV_TEST_FAULT
// hook, each armed by a file the test creates: WAL fdatasync EIO, WAL write ENOSPC, snapshot
// write ENOSPC, snapshot fdatasync EIO. Per fault: the member exits with status 1, its log names
// the file, the operation and the errno, its client port refuses connections, the others elect or
// keep a leader and take and read back writes, and no acknowledged write is lost (checked on every
// member at the end, after each faulted member came back on a healthy disk).
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ProcCluster, v2, type ProcMember } from '../e2e/procs.js'
import { refuses } from '../support/ports.js'
import { removeDir, tempDir } from '../support/tmp.js'
import { sleep, until, within } from '../support/wait.js'

const FAULTS = {
  'wal-fdatasync': { spec: 'wal:fdatasync:EIO', op: 'fdatasync', errno: 'EIO', file: /[/\\]member[/\\]wal[/\\][0-9a-f-]+\.wal$/ },
  'wal-write': { spec: 'wal:write:ENOSPC', op: 'write', errno: 'ENOSPC', file: /[/\\]member[/\\]wal[/\\][0-9a-f-]+\.wal$/ },
  'snap-write': { spec: 'snap:write:ENOSPC', op: 'write', errno: 'ENOSPC', file: /[/\\]member[/\\]snap[/\\][0-9a-f-]+\.snap\.tmp$/ },
  'snap-fdatasync': { spec: 'snap:fdatasync:EIO', op: 'fdatasync', errno: 'EIO', file: /[/\\]member[/\\]snap[/\\][0-9a-f-]+\.snap\.tmp$/ },
} as const
type Fault = keyof typeof FAULTS

const armDir = tempDir('fatal-arm')
const armFile = (name: string, fault: Fault): string => path.join(armDir, `${name}.${fault}`)
const SNAPSHOT_COUNT = 30

let c: ProcCluster
/** Every write a member acknowledged: key -> value. */
const acked = new Map<string, string>()
let seq = 0

test.before(async () => {
  c = await ProcCluster.start({
    size: 3,
    heartbeatMs: 50,
    electionMs: 500,
    snapshotCount: SNAPSHOT_COUNT,
    env: (name) => ({
      RAFTKV_TEST_FAULT: (Object.keys(FAULTS) as Fault[]).map((f) => `${FAULTS[f].spec}:when=${armFile(name, f)}`).join(','),
    }),
  })
})

test.after(async () => {
  await c?.close()
  removeDir(armDir)
})

/** One write through `via`; recorded when acknowledged. */
async function write(via: ProcMember): Promise<boolean> {
  const key = `/fatal/k${++seq}`
  const value = `v${seq}`
  try {
    const r = await v2(via.clientUrl, 'PUT', `/v2/keys${key}`, { value })
    if (r.status === 200 || r.status === 201) {
      acked.set(key, value)
      return true
    }
  } catch {
    // refused or cut: not acknowledged
  }
  return false
}

/** `n` acknowledged writes through `via`, retrying through an election. */
async function writes(via: ProcMember, n: number): Promise<void> {
  let done = 0
  await until(async () => {
    if (await write(via)) done++
    return done >= n
  }, 20_000, `${n} writes through ${via.name}`, 20)
}

/** The member's latest storage-failure log line (its log file spans its restarts), if any. */
function fatalLine(m: ProcMember): Record<string, unknown> | undefined {
  const log = readFileSync(path.join(c.dir, `${m.name}.log`), 'utf8')
  let last: Record<string, unknown> | undefined
  for (const l of log.split('\n')) {
    if (!l.startsWith('{')) continue
    const j = JSON.parse(l) as Record<string, unknown>
    if (j.level === 'fatal' && String(j.msg).startsWith('storage failed:')) last = j
  }
  return last
}

async function faultStopsMember(role: 'leader' | 'follower', fault: Fault): Promise<void> {
  const leader = await c.waitLeader(30_000)
  const target = role === 'leader' ? leader : c.running().find((m) => m !== leader)!
  const other = c.running().find((m) => m !== target)!
  await writes(other, 5)

  writeFileSync(armFile(target.name, fault), '')
  // Writes reach the target's WAL at once; its snapshot comes after SNAPSHOT_COUNT applied entries.
  const exited = target.exited!
  let stopped = false
  void exited.then(() => (stopped = true))
  await until(async () => {
    if (stopped) return true
    await write(other)
    return false
  }, 30_000, `${target.name} (${role}) stops after ${fault}`, 10)
  const code = await within(10_000, exited, `${target.name} exits`)
  assert.is(code, 1, `${target.name} exit status`)
  target.proc = undefined
  rmSync(armFile(target.name, fault))

  const line = fatalLine(target)
  assert.ok(line, `${target.name}'s log has a fatal line for ${fault}`)
  assert.is(line!.op, FAULTS[fault].op)
  assert.is(line!.errno, FAULTS[fault].errno)
  assert.match(String(line!.file), FAULTS[fault].file)
  assert.match(String(line!.msg), String(line!.file))
  assert.match(String(line!.msg), FAULTS[fault].errno)
  assert.ok(await refuses(target.clientUrl), `${target.name}'s client port refuses connections`)

  // The other two keep (or elect) a leader, take writes and read back everything acknowledged.
  const survivors = c.running()
  assert.is(survivors.length, 2)
  const next = await c.waitLeader(30_000, survivors)
  assert.ok(next !== target)
  for (const m of survivors) await writes(m, 3)
  for (const m of survivors) await readsBack(m)

  // Back on a healthy disk, the member rejoins.
  c.restart(target)
  await c.waitLeader(60_000, c.running())
}

async function readsBack(m: ProcMember): Promise<void> {
  for (const [key, value] of acked) {
    const r = await v2(m.clientUrl, 'GET', `/v2/keys${key}?quorum=true`, undefined, 10_000)
    assert.is(r.status, 200, `${key} on ${m.name}: ${JSON.stringify(r.body)}`)
    assert.is(r.body.node.value, value, `${key} on ${m.name}`)
  }
}

test('WAL fdatasync EIO on the leader: it exits 1, the other two elect a leader and go on', async () => {
  await faultStopsMember('leader', 'wal-fdatasync')
})

test('WAL write ENOSPC on a follower: it exits 1, the leader and the other follower go on', async () => {
  await faultStopsMember('follower', 'wal-write')
})

test('snapshot write ENOSPC on the leader: it exits 1, the other two elect a leader and go on', async () => {
  await faultStopsMember('leader', 'snap-write')
})

test('snapshot fdatasync EIO on a follower: it exits 1, the leader and the other follower go on', async () => {
  await faultStopsMember('follower', 'snap-fdatasync')
})

test('no acknowledged write was lost: every member reads back every one', async () => {
  await sleep(200)
  assert.ok(acked.size > 40, `${acked.size} acknowledged writes`)
  for (const m of c.running()) await readsBack(m)
})

test.run()
