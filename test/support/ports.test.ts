// reservePort: a port one process holds is never handed to another, it is free again once its
// holder exits, a claim left by a process that died is taken over, and the kernel's ephemeral
// range (where port-0 binds land) is never used. Each check runs reservePort in a child process
// whose range is narrowed (RAFTKV_TEST_PORTS) to ports this test controls.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, utimesSync, writeFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { reservePort, reservePortRange, releasePort } from './ports.js'
import { startChild } from './procs.js'
import { repoRoot } from './paths.js'

const portsModule = path.join(repoRoot, 'test/support/ports.ts')
const claimDir = path.join(os.tmpdir(), `raftkv-test-ports-${os.userInfo().uid}`)

/** Runs `call` (reservePort() unless given) in a fresh process limited to `low-high`; its stdout: the port or the error. */
async function reserveInChild(low: number, high: number, call = 'reservePort()'): Promise<string> {
  const code = `import { reservePort, reservePortRange } from ${JSON.stringify(portsModule)}
try { console.log(await ${call}) } catch (e) { console.log('error: ' + e.message) }`
  const child = startChild(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, RAFTKV_TEST_PORTS: `${low}-${high}` },
  })
  const exit = await child.exited
  assert.is(exit.code, 0, child.output())
  return child.stdout().trim()
}

test('a port this process holds is not given to another process', async () => {
  const p = await reservePort()
  assert.match(await reserveInChild(p, p), /^error: no free port/)
  releasePort(p)
})

test('a port is free again once its holder exits (and the holder removes its claim)', async () => {
  const p = await reservePort()
  releasePort(p)
  const got = await reserveInChild(p, p)
  assert.is(got, String(p))
  assert.not.ok(readdirSync(claimDir).includes(String(p)), 'the exited child removed its claim')
})

test('a stale claim of a process that died is taken over', async () => {
  const p = await reservePort()
  // Make the claim look like one left by a dead process a while ago.
  const file = path.join(claimDir, String(p))
  const dead = startChild(process.execPath, ['-e', ''])
  await dead.exited
  writeFileSync(file, String(dead.pid))
  const old = new Date(Date.now() - 10 * 60_000)
  utimesSync(file, old, old)
  assert.is(readFileSync(file, 'utf8'), String(dead.pid))
  assert.is(await reserveInChild(p, p), String(p))
})

test('a range of consecutive ports skips a held port and is claimed whole', async () => {
  const base = await reservePortRange(4)
  for (const k of [1, 2, 3]) releasePort(base + k)
  // base is still held: of base..base+3 only base+1..base+3 is three free ports in a row
  assert.is(await reserveInChild(base, base + 3, 'reservePortRange(3)'), String(base + 1))
  assert.match(await reserveInChild(base, base + 3, 'reservePortRange(4)'), /^error: no 4 consecutive free ports/)
  releasePort(base)
})

test('reserved ports lie below the kernel ephemeral range', async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  for (let i = 0; i < 20; i++) {
    const p = await reservePort()
    assert.ok(p >= 1024 && p < low, `${p} outside [1024, ${low})`)
  }
})

test.run()
