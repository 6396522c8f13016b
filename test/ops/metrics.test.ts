// /metrics of a three-member cluster (child processes) under writes: the etcd metric names a
// Prometheus user relies on are there with the right types, the counters move with the load on the
// member that did the work, exactly one member says it leads, and a leader kill is counted.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { register as globalRegistry } from 'prom-client'
import { ProcCluster, v2, type ProcMember } from '../e2e/procs.js'
import { sleep } from '../support/wait.js'
import { startServer } from '../../server/index.js'
import { memberId } from '../../server/ids.js'

const test = suite('ops: prometheus metrics')
let cluster: ProcCluster

interface Family { type: string; samples: Map<string, number> }
type Scrape = Map<string, Family>

/** Parses the Prometheus text format into families (samples keyed by `name{labels}`). */
function parse(text: string): Scrape {
  const out: Scrape = new Map()
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (t) {
      out.set(t[1]!, { type: t[2]!, samples: new Map() })
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    const series = line.slice(0, sp)
    const name = series.replace(/\{.*$/, '')
    const fam = out.get(name) ?? out.get(name.replace(/_(bucket|sum|count)$/, ''))
    fam?.samples.set(series, Number(line.slice(sp + 1)))
  }
  return out
}

async function scrape(m: ProcMember): Promise<Scrape> {
  const r = await fetch(m.clientUrl + '/metrics', { signal: AbortSignal.timeout(3000) })
  assert.is(r.status, 200)
  assert.is(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parse(await r.text())
}

function value(s: Scrape, series: string): number {
  const name = series.replace(/\{.*$/, '')
  const fam = s.get(name) ?? s.get(name.replace(/_(bucket|sum|count)$/, ''))
  return fam?.samples.get(series) ?? 0
}

const TYPES: Record<string, string> = {
  etcd_server_has_leader: 'gauge',
  etcd_server_is_leader: 'gauge',
  etcd_server_leader_changes_seen_total: 'counter',
  etcd_server_proposals_committed_total: 'gauge',
  etcd_server_proposals_applied_total: 'gauge',
  etcd_server_proposals_pending: 'gauge',
  etcd_server_proposals_failed_total: 'counter',
  etcd_disk_wal_fsync_duration_seconds: 'histogram',
  etcd_debugging_snap_save_total_duration_seconds: 'histogram',
  etcd_network_peer_round_trip_time_seconds: 'histogram',
  etcd_network_peer_sent_bytes_total: 'counter',
  etcd_network_peer_received_bytes_total: 'counter',
  etcd_debugging_store_reads_total: 'counter',
  etcd_debugging_store_writes_total: 'counter',
  etcd_debugging_store_watchers: 'gauge',
  etcd_debugging_store_watch_requests_total: 'counter',
  etcd_debugging_store_expires_total: 'counter',
  etcd_http_received_total: 'counter',
  etcd_http_failed_total: 'counter',
  etcd_http_successful_duration_seconds: 'histogram',
  process_cpu_user_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
}

test.before(async () => {
  // A token that gives the first member an id with a leading zero: etcd writes ids without it, in
  // /v2/members and in metric labels alike.
  const tokenFor = (urls: string[]): string => {
    for (let i = 0; ; i++) if (memberId([urls[0]!], `metrics-${i}`).startsWith('0')) return `metrics-${i}`
  }
  cluster = await ProcCluster.start({ size: 3, snapshotCount: 30, tokenFor })
})
test.after(async () => {
  await cluster?.close()
})

test('names, types and moving counters on every member of a cluster under writes', async () => {
  const leader = await cluster.waitLeader()
  const followers = cluster.members.filter((m) => m !== leader)
  const ids = new Map<string, string>()
  for (const m of (await v2(leader.clientUrl, 'GET', '/v2/members')).body.members as { id: string; name: string }[]) ids.set(m.name, m.id)
  const before = new Map<ProcMember, Scrape>()
  for (const m of cluster.members) before.set(m, await scrape(m))

  // Load: writes through every member, quorum and plain reads, one 404, one TTL that expires, a watch.
  const watch = fetch(followers[0]!.clientUrl + '/v2/keys/ops-idle?wait=true', { signal: AbortSignal.timeout(20_000) }).catch(() => undefined)
  const N = 60
  for (let i = 0; i < N; i++) {
    const via = cluster.members[i % 3]!
    const r = await v2(via.clientUrl, 'PUT', `/v2/keys/ops/k${i % 7}`, { value: String(i) })
    assert.ok(r.status === 200 || r.status === 201, `PUT via ${via.name}: ${r.status}`)
  }
  assert.is((await v2(leader.clientUrl, 'GET', '/v2/keys/ops/k1?quorum=true')).status, 200)
  assert.is((await v2(followers[1]!.clientUrl, 'GET', '/v2/keys/ops/k2')).status, 200)
  assert.is((await v2(followers[1]!.clientUrl, 'GET', '/v2/keys/ops/missing')).status, 404)
  assert.is((await v2(leader.clientUrl, 'PUT', '/v2/keys/ops-ttl', { value: 'x', ttl: '1' })).status, 201)
  await sleep(2200) // TTL sweep + one RTT sample period

  const after = new Map<ProcMember, Scrape>()
  for (const m of cluster.members) after.set(m, await scrape(m))

  for (const m of cluster.members) {
    const a = after.get(m)!
    const b = before.get(m)!
    for (const [name, type] of Object.entries(TYPES)) {
      assert.ok(a.has(name), `${m.name}: ${name} missing`)
      assert.is(a.get(name)!.type, type, `${m.name}: ${name} type`)
    }
    assert.is(value(a, 'etcd_server_has_leader'), 1, `${m.name} has a leader`)
    assert.ok(value(a, 'etcd_server_leader_changes_seen_total') >= 1, `${m.name} saw a leader`)
    const committed = value(a, 'etcd_server_proposals_committed_total') - value(b, 'etcd_server_proposals_committed_total')
    assert.ok(committed >= N, `${m.name}: committed moved by ${committed}`)
    assert.ok(value(a, 'etcd_server_proposals_applied_total') >= value(b, 'etcd_server_proposals_applied_total') + N, `${m.name}: applied moved`)
    // Every member applies every write to its store.
    assert.ok(value(a, 'etcd_debugging_store_writes_total{action="set"}') - value(b, 'etcd_debugging_store_writes_total{action="set"}') >= N, `${m.name}: store sets`)
    assert.ok(value(a, 'etcd_debugging_store_expires_total') >= 1, `${m.name}: expiry counted`)
    assert.ok(value(a, 'etcd_disk_wal_fsync_duration_seconds_count') > value(b, 'etcd_disk_wal_fsync_duration_seconds_count'), `${m.name}: fsyncs observed`)
    assert.ok(value(a, 'etcd_disk_wal_fsync_duration_seconds_sum') > 0)
    assert.ok(value(a, 'etcd_debugging_snap_save_total_duration_seconds_count') >= 1, `${m.name}: snapshot saved (snapshot-count 30)`)
    // Each member wrote its share of the PUTs.
    assert.ok(value(a, 'etcd_http_received_total{method="PUT"}') - value(b, 'etcd_http_received_total{method="PUT"}') >= N / 3, `${m.name}: PUTs received`)
    assert.ok(value(a, 'etcd_http_successful_duration_seconds_count{method="PUT"}') >= N / 3, `${m.name}: PUT durations`)
    assert.ok(value(a, 'process_resident_memory_bytes') > 0)
  }

  const la = after.get(leader)!
  assert.is(value(la, 'etcd_server_is_leader'), 1)
  assert.is(cluster.members.map((m) => value(after.get(m)!, 'etcd_server_is_leader')).reduce((x, y) => x + y), 1, 'exactly one leader')
  assert.ok(value(la, 'etcd_http_received_total{method="QGET"}') >= 1, 'quorum read labelled QGET')
  assert.ok(value(after.get(followers[1]!)!, 'etcd_http_failed_total{method="GET",code="404"}') >= 1, '404 counted as failed')
  assert.ok(value(after.get(followers[1]!)!, 'etcd_debugging_store_reads_total{action="get"}') >= 1, 'local read counted')
  assert.ok(value(after.get(followers[0]!)!, 'etcd_debugging_store_watchers') >= 1, 'open watch counted')
  assert.ok(value(after.get(followers[0]!)!, 'etcd_debugging_store_watch_requests_total') >= 1, 'watch request counted')
  // Peer labels are the ids as /v2/members writes them (no leading zeros), one per other member.
  const peerIds = (s: Scrape, name: string, label: string): string[] =>
    [...(s.get(name)?.samples.keys() ?? [])].map((k) => new RegExp(`${label}="([^"]*)"`).exec(k)?.[1] ?? '').sort()
  for (const m of cluster.members) {
    const others = cluster.members.filter((o) => o !== m).map((o) => ids.get(o.name)!).sort()
    assert.equal(peerIds(after.get(m)!, 'etcd_network_peer_sent_bytes_total', 'To'), others, `${m.name}: To labels`)
    assert.equal(peerIds(after.get(m)!, 'etcd_network_peer_received_bytes_total', 'From'), others, `${m.name}: From labels`)
  }
  assert.ok([...ids.values()].some((id) => id.length < 16), 'an id with a leading zero is in the cluster')
  for (const f of followers) {
    const id = ids.get(f.name)!
    assert.ok(value(la, `etcd_network_peer_sent_bytes_total{To="${id}"}`) > value(before.get(leader)!, `etcd_network_peer_sent_bytes_total{To="${id}"}`), `leader sent to ${f.name}`)
    assert.ok(value(la, `etcd_network_peer_round_trip_time_seconds_count{To="${id}"}`) >= 1, `rtt to ${f.name}`)
    assert.ok(value(after.get(f)!, `etcd_network_peer_received_bytes_total{From="${ids.get(leader.name)}"}`) > 0, `${f.name} received from the leader`)
  }
  void watch
})

test('killing the leader is counted as a leader change on the survivors', async () => {
  const leader = await cluster.waitLeader()
  const survivors = cluster.members.filter((m) => m !== leader)
  const before = await Promise.all(survivors.map(async (m) => value(await scrape(m), 'etcd_server_leader_changes_seen_total')))
  await cluster.kill(leader)
  const next = await cluster.waitLeader(10_000, survivors)
  const after = await Promise.all(survivors.map(scrape))
  after.forEach((s, i) => {
    assert.ok(value(s, 'etcd_server_leader_changes_seen_total') > before[i]!, `${survivors[i]!.name} counted the change`)
    assert.is(value(s, 'etcd_server_is_leader'), survivors[i] === next ? 1 : 0)
  })
})

test('members in one process keep separate registries; prom-client\'s global registry stays empty', async () => {
  const a = await startServer({ name: 'a', listenClientUrls: ['http://127.0.0.1:0'] })
  const b = await startServer({ name: 'b', listenClientUrls: ['http://127.0.0.1:0'] })
  try {
    for (let i = 0; i < 5; i++) assert.is((await v2(a.url, 'PUT', `/v2/keys/only-a/${i}`, { value: 'x' })).status, 201)
    const text = async (url: string): Promise<Scrape> => parse(await (await fetch(url + '/metrics')).text())
    const sa = await text(a.url)
    const sb = await text(b.url)
    assert.is(value(sa, 'etcd_http_received_total{method="PUT"}'), 5)
    assert.is(value(sb, 'etcd_http_received_total{method="PUT"}'), 0)
    assert.is(value(sa, 'etcd_debugging_store_writes_total{action="set"}'), 5)
    assert.is(value(sb, 'etcd_debugging_store_writes_total{action="set"}'), 0)
    assert.ok(sb.has('process_cpu_user_seconds_total'), 'process metrics on every member')
    assert.is((await globalRegistry.getMetricsAsJSON()).length, 0)
  } finally {
    await a.close()
    await b.close()
  }
})

test.run()
