// `npm run cluster` as a user drives it from a terminal: --help prints usage and starts nothing;
// the banner names each member's data dir and restart command; a member killed by hand comes back
// with that command; Ctrl-C (SIGINT to the terminal's process group) stops every member with one
// SIGTERM each, a leader hands over, all exit 0.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { reservePortRange } from '../support/ports.js'
import { ROOT, alive, cleanup, portFree, spawnProc, tempDir, tryKill, waitFor, waitServing, within } from './proc.js'

const cluster = suite('npm run cluster')
cluster.after(cleanup)

cluster('--help prints usage, exits 0 and starts nothing', async () => {
  const hadData = existsSync(join(ROOT, 'cluster-data'))
  const p = spawnProc('npm', ['run', '--silent', 'cluster', '--', '--help'])
  const { code } = await within(p.exited, 60_000, 'help')
  assert.is(code, 0)
  assert.match(p.out(), /^Usage: npm run cluster -- \[options\]/)
  assert.match(p.out(), /--restart NAME/)
  assert.is(existsSync(join(ROOT, 'cluster-data')), hadData, 'no data dir was created')
  const bad = spawnProc('npm', ['run', '--silent', 'cluster', '--', '--bogus'])
  assert.is((await within(bad.exited, 60_000, 'bad flag')).code, 2)
  assert.match(bad.err(), /cluster: unknown argument '--bogus'/)
})

async function leaderName(url: string): Promise<string> {
  const self = (await (await fetch(`${url}/v2/stats/self`)).json()) as { leaderInfo: { leader: string } }
  const members = (await (await fetch(`${url}/v2/members`)).json()) as { members: { id: string; name: string }[] }
  return members.members.find((m) => m.id === self.leaderInfo.leader)?.name ?? ''
}

cluster('prints data dirs and restart commands; a killed member comes back with --restart; Ctrl-C hands over and exits 0', async () => {
  // clients base, base+2, base+4; peers base+1, +3, +5
  const base = await reservePortRange(6)
  const data = tempDir()
  const url = (i: number): string => `http://127.0.0.1:${base + i * 2}`
  const args = ['run', '--silent', 'cluster', '--', '--base-port', String(base), '--data-dir', data]
  const main = spawnProc('npm', args, { group: true })
  for (const i of [0, 1, 2]) await waitServing(url(i), 120_000).catch((err: Error) => assert.unreachable(`${err.message}; cluster output:\n${main.out().slice(-3000)}`))

  const out = main.out()
  const pids = new Map<string, number>()
  for (const name of ['infra1', 'infra2', 'infra3']) {
    const m = new RegExp(`  ${name}: client .*, pid (\\d+), data dir (.*)\\n\\s+restart: (.*)\\n`).exec(out)
    assert.ok(m, `banner line for ${name}:\n${out}`)
    pids.set(name, Number(m![1]))
    assert.is(m![2], join(data, `${name}.etcd`))
    assert.is(m![3], `npm run cluster -- --base-port ${base} --data-dir ${data} --restart ${name}`)
  }
  const put = await fetch(`${url(0)}/v2/keys/greeting`, { method: 'PUT', body: new URLSearchParams({ value: 'hello' }) })
  assert.ok(put.status === 201 || put.status === 200)

  // kill -9 one member: the script says how to bring it back, and that command does
  tryKill(pids.get('infra2')!, 'SIGKILL')
  await waitFor(() => main.out().includes('restart it with: npm run cluster -- '), 20_000, 'restart hint')
  assert.match(main.out(), /infra2\s*\| restart it with: npm run cluster -- .* --restart infra2\n/)
  const restarted = spawnProc('npm', [...args, '--restart', 'infra2'], { group: true })
  await waitFor(async () => {
    const body = (await (await fetch(`${url(1)}/v2/keys/greeting?quorum=true`)).json()) as { node?: { value: string } }
    return body.node?.value === 'hello'
  }, 120_000, 'restarted infra2 serves the data')
  assert.match(restarted.out(), /restarting member from its data dir/)

  // Ctrl-C in the restarted member's terminal, then in the cluster's; the leader is in one of them
  const before = await leaderName(url(0))
  assert.ok(before !== '', 'a leader is known')
  tryKill(-restarted.pid, 'SIGINT')
  assert.is((await within(restarted.exited, 30_000, 'restarted stops')).code, 0)
  const lead = await (async () => {
    let name = ''
    await waitFor(async () => (name = await leaderName(url(0))) !== '' && name !== 'infra2', 30_000, 'leader among the two left')
    return name
  })()
  tryKill(-main.pid, 'SIGINT')
  const { code } = await within(main.exited, 60_000, 'cluster stops')
  const log = main.out()
  assert.is(code, 0, `exit code; output:\n${log.slice(-3000)}`)
  assert.match(log, /stopping the cluster \(one SIGTERM per member, the leader first\)/)
  assert.match(log, new RegExp(`${lead}\\s*\\|.*handed leadership over before stopping`), `the leader (${lead}) handed over:\n${log.slice(-4000)}`)
  assert.not.match(log, /second signal/)
  for (const name of ['infra1', 'infra3']) assert.match(log, new RegExp(`${name}\\s*\\| exited \\(0\\)`))
  for (const pid of pids.values()) assert.not.ok(alive(pid), `member pid ${pid} is gone`)
  for (const k of [0, 1, 2, 3, 4, 5]) assert.ok(await portFree(base + k), `port ${base + k} is free`)
})

cluster.run()
