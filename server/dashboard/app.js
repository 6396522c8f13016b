// raftkv dashboard, browser side. Plain script (no build step, no dependencies). It talks only to
// one member: the one that served the page, or ?endpoint=<client URL>. raftkv adds
// /dashboard/api/cluster and /dashboard/api/status (every member's Raft state, replication, rate
// history); against a plain etcd those are missing and the page falls back to /v2/members,
// /v2/stats/self, /v2/stats/leader and /metrics (see README "Operations" for what stays empty).
'use strict'

const params = new URLSearchParams(location.search)
const BASE = (params.get('endpoint') || '').replace(/\/$/, '')
const POLL_MS = 1000
const $ = (id) => document.getElementById(id)

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)) }
function clock(t) { return new Date(t).toLocaleTimeString([], { hour12: false }) }
function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s }
async function getJSON(path, timeoutMs = 3000) {
  const ctl = new AbortController()
  const timer = setTimeout(() => ctl.abort(), timeoutMs)
  try {
    const r = await fetch(BASE + path, { cache: 'no-store', signal: ctl.signal })
    const text = await r.text()
    let body
    try { body = JSON.parse(text) } catch { body = text }
    return { status: r.status, body, headers: r.headers }
  } finally {
    clearTimeout(timer)
  }
}

// ---- members ---------------------------------------------------------------------------------

let hasClusterApi = true
let clusterId = ''
let lastCluster = null

async function loadCluster() {
  if (hasClusterApi) {
    const r = await getJSON('/dashboard/api/cluster')
    if (r.status === 200 && r.body && Array.isArray(r.body.members)) return r.body
    if (r.status === 404) hasClusterApi = false
    else throw new Error('cluster status: HTTP ' + r.status)
  }
  // Plain etcd: members from /v2/members, state only for the served member and the leader's followers.
  const [mem, self, lead] = await Promise.all([getJSON('/v2/members'), getJSON('/v2/stats/self'), getJSON('/v2/stats/leader')])
  const leader = (self.body && self.body.leaderInfo && self.body.leaderInfo.leader) || ''
  const followers = (lead.status === 200 && lead.body && lead.body.followers) || {}
  const members = ((mem.body && mem.body.members) || []).map((m) => {
    const isSelf = self.body && m.id === self.body.id
    const f = followers[m.id]
    return {
      id: m.id, name: m.name, clientURLs: m.clientURLs || [], self: isSelf,
      state: isSelf ? String(self.body.state || '').replace(/^State/, '').toLowerCase() : m.id === leader ? 'leader' : f ? 'follower' : '',
      leader, reachable: isSelf || m.id === leader || (f ? f.counts.fail === 0 || f.latency.current > 0 : undefined),
      hasLeader: leader !== '', fallbackLatencyMs: f ? f.latency.current : undefined,
    }
  })
  return { clusterId: mem.headers.get('X-Etcd-Cluster-Id') || '', members, fallback: true }
}

function renderMembers(c) {
  lastCluster = c
  clusterId = c.clusterId || clusterId
  const ms = c.members
  const leaderRow = ms.find((m) => m.reachable && m.state === 'leader')
  const tbody = $('members').querySelector('tbody')
  const rows = ms.map((m) => {
    const state = m.reachable === false ? 'down' : m.state || 'unknown'
    let lag = '—'
    let lat = '—'
    if (leaderRow && m !== leaderRow) {
      const pr = leaderRow.progress && leaderRow.progress[m.id]
      if (pr) lag = String(Math.max(0, leaderRow.lastIndex - pr.match))
      const p = leaderRow.peers && leaderRow.peers[m.id]
      if (p && p.latencyMs > 0) lat = p.latencyMs.toFixed(1) + ' ms'
    }
    if (lat === '—' && m.fallbackLatencyMs !== undefined) lat = (m.fallbackLatencyMs).toFixed(1) + ' ms'
    if (lat === '—' && !m.self) {
      const me = ms.find((x) => x.self)
      const p = me && me.peers && me.peers[m.id]
      if (p && p.latencyMs > 0) lat = p.latencyMs.toFixed(1) + ' ms'
    }
    const health = m.reachable === false ? '<span class="bad">unreachable' + (m.error ? ' (' + esc(short(m.error, 40)) + ')' : '') + '</span>'
      : m.reachable === undefined ? '<span class="warn">unknown</span>'
      : m.hasLeader === false ? '<span class="warn">no leader</span>' : '<span class="ok">healthy</span>'
    const num = (v) => (v === undefined ? '—' : String(v))
    return '<tr data-name="' + esc(m.name || m.id) + '" data-state="' + esc(state) + '"' + (m.self ? ' class="self"' : '') + '>' +
      '<td>' + esc(m.name || '(unstarted)') + '</td><td>' + esc(m.id) + '</td>' +
      '<td><span class="badge state-' + esc(state) + '">' + (state === 'leader' ? '★ ' : '') + esc(state) + '</span></td>' +
      '<td class="num">' + num(m.term) + '</td><td class="num">' + num(m.commit) + '</td><td class="num">' + num(m.applied) + '</td>' +
      '<td class="num">' + lag + '</td><td class="num">' + lat + '</td><td>' + health + '</td>' +
      '<td>' + esc((m.clientURLs || []).join(', ')) + '</td></tr>'
  })
  tbody.innerHTML = rows.join('')
  const me = ms.find((m) => m.self)
  const leaders = ms.filter((m) => m.reachable !== false && m.state === 'leader')
  $('summary').innerHTML = 'cluster <b>' + esc(clusterId || '?') + '</b> · ' + ms.length + ' members · leader <b>' +
    esc(leaders.length === 1 ? leaders[0].name || leaders[0].id : leaders.length === 0 ? 'none' : leaders.length + '?!') + '</b>' +
    (leaders[0] && leaders[0].term !== undefined ? ' · term <b>' + leaders[0].term + '</b>' : '') +
    ' · served by <b>' + esc(me ? me.name : BASE || location.host) + '</b> · ' + clock(Date.now())
  $('members-note').textContent = c.fallback
    ? 'Plain etcd: only the served member and the leader report state; term, indexes and lag need raftkv.'
    : ''
}

async function membersLoop() {
  for (;;) {
    try {
      renderMembers(await loadCluster())
    } catch (e) {
      $('summary').innerHTML = '<span class="bad">cannot reach ' + esc(BASE || location.host) + ': ' + esc(e.message || e) + '</span>'
      $('members').querySelectorAll('tbody tr[data-state]').forEach((tr) => { if (tr.classList.contains('self')) tr.dataset.state = 'down' })
    }
    await sleep(POLL_MS)
  }
}

// ---- rate charts -----------------------------------------------------------------------------

const WINDOW_MS = 10 * 60 * 1000
let samples = [] // { t, reads, writes } cumulative
let historyLoaded = false

function parseMetrics(text) {
  let reads = 0
  let writes = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('etcd_debugging_store_reads_total')) reads += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0
    else if (line.startsWith('etcd_debugging_store_writes_total') || line.startsWith('etcd_debugging_store_expires_total')) writes += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0
  }
  return { reads, writes }
}

async function sampleRates() {
  if (hasClusterApi) {
    const r = await getJSON('/dashboard/api/status')
    if (r.status === 200 && r.body.history) {
      // Server-side history: the charts show the last minutes even for a page opened just now.
      const h = r.body.history
      if (!historyLoaded || samples.length === 0) samples = h.slice()
      else for (const s of h) if (s.t > samples[samples.length - 1].t) samples.push(s)
      historyLoaded = true
      return
    }
  }
  const r = await fetch(BASE + '/metrics', { cache: 'no-store' })
  if (!r.ok) return
  samples.push({ t: Date.now(), ...parseMetrics(await r.text()) })
}

function rates(field) {
  // Rate over a sliding 5-sample window (5 s at the server's 1 s sampling): single samples are noisy.
  const out = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[Math.max(0, i - 5)]
    const b = samples[i]
    const dt = (b.t - a.t) / 1000
    if (dt > 0) out.push({ t: b.t, v: Math.max(0, (b[field] - a[field]) / dt) })
  }
  return out
}

/** The time span the charts show: what history there is, from 1 to 10 minutes. */
function chartWindow() {
  const span = samples.length ? Date.now() - samples[0].t : 0
  return Math.min(WINDOW_MS, Math.max(60_000, span))
}

function drawChart(canvas, points, color) {
  const win = chartWindow()
  const dpr = window.devicePixelRatio || 1
  const w = canvas.clientWidth || canvas.width
  const h = canvas.clientHeight || canvas.height
  canvas.width = w * dpr
  canvas.height = h * dpr
  const g = canvas.getContext('2d')
  g.scale(dpr, dpr)
  g.clearRect(0, 0, w, h)
  const now = Date.now()
  const left = 44
  const bottom = h - 18
  const max = Math.max(1, ...points.map((p) => p.v))
  const nice = Math.pow(10, Math.floor(Math.log10(max)))
  const top = Math.ceil(max / nice) * nice
  g.font = '11px system-ui, sans-serif'
  g.strokeStyle = '#e2e5eb'
  g.fillStyle = '#6b7385'
  for (let i = 0; i <= 4; i++) {
    const y = 6 + ((bottom - 6) * i) / 4
    g.beginPath(); g.moveTo(left, y); g.lineTo(w - 4, y); g.stroke()
    const v = top * (1 - i / 4)
    g.fillText(v >= 1000 ? (v / 1000).toFixed(1) + 'k' : String(Math.round(v * 10) / 10), 4, y + 4)
  }
  for (let i = 0; i <= 5; i++) {
    const ago = (win * (5 - i)) / 5
    const x = left + ((w - 4 - left) * i) / 5
    const label = ago === 0 ? 'now' : ago >= 120_000 ? '-' + Math.round(ago / 60_000) + 'm' : '-' + Math.round(ago / 1000) + 's'
    g.fillText(label, Math.min(x - 10, w - 26), h - 4)
  }
  const xs = (t) => left + ((w - 4 - left) * (t - (now - win))) / win
  const ys = (v) => bottom - ((bottom - 6) * v) / top
  const pts = points.filter((p) => p.t >= now - win)
  if (pts.length < 2) return
  g.beginPath()
  g.moveTo(xs(pts[0].t), bottom)
  for (const p of pts) g.lineTo(xs(p.t), ys(p.v))
  g.lineTo(xs(pts[pts.length - 1].t), bottom)
  g.closePath()
  g.fillStyle = color + '22'
  g.fill()
  g.beginPath()
  pts.forEach((p, i) => (i === 0 ? g.moveTo(xs(p.t), ys(p.v)) : g.lineTo(xs(p.t), ys(p.v))))
  g.strokeStyle = color
  g.lineWidth = 1.5
  g.stroke()
}

function recent(points) {
  // Mean over the last 5 s: single samples are noisy.
  const since = Date.now() - 5000
  const last = points.filter((p) => p.t >= since)
  return last.length ? last.reduce((a, p) => a + p.v, 0) / last.length : 0
}

async function ratesLoop() {
  for (;;) {
    try {
      await sampleRates()
      const cutoff = Date.now() - WINDOW_MS - 5000
      while (samples.length > 2 && samples[0].t < cutoff) samples.shift()
      const r = rates('reads')
      const w = rates('writes')
      drawChart($('reads-chart'), r, '#1a73e8')
      drawChart($('writes-chart'), w, '#1e8e3e')
      $('reads-now').textContent = recent(r).toFixed(1) + '/s'
      $('writes-now').textContent = recent(w).toFixed(1) + '/s'
      $('rates-note').textContent = historyLoaded
        ? 'reads served by this member, writes applied (cluster-wide), last ' +
          (chartWindow() >= 120_000 ? Math.round(chartWindow() / 60_000) + ' min' : Math.round(chartWindow() / 1000) + ' s')
        : 'from /metrics since this page was opened'
    } catch {
      // member down: keep the last picture
    }
    await sleep(2000)
  }
}

// ---- key browser -----------------------------------------------------------------------------

const open = new Set(['/'])
const children = new Map() // dir -> nodes
let selected = null

function keyPath(k) { return k.split('/').map(encodeURIComponent).join('/') }

async function loadDir(dir) {
  const r = await getJSON('/v2/keys' + keyPath(dir === '/' ? '/' : dir) + '?sorted=true')
  if (r.status === 404) { children.set(dir, []); return }
  if (r.status !== 200 || !r.body.node) return
  children.set(dir, r.body.node.nodes || [])
}

function ttlText(n) {
  return n.ttl !== undefined ? ' <span class="ttl">ttl ' + n.ttl + 's</span>' : ''
}

function renderTree() {
  const build = (dir) => {
    const nodes = children.get(dir) || []
    return nodes.map((n) => {
      const name = n.key.slice(n.key.lastIndexOf('/') + 1)
      if (n.dir) {
        const isOpen = open.has(n.key)
        return '<li class="dir' + (isOpen ? ' open' : '') + '" data-key="' + esc(n.key) + '"><span' + (selected === n.key ? ' class="sel"' : '') + '>' +
          esc(name) + '/' + ttlText(n) + '</span>' + (isOpen ? '<ul>' + build(n.key) + '</ul>' : '') + '</li>'
      }
      return '<li class="file" data-key="' + esc(n.key) + '"><span' + (selected === n.key ? ' class="sel"' : '') + '>' + esc(name) +
        ' <span class="val">= ' + esc(short(n.value, 40)) + '</span>' + ttlText(n) + '</span></li>'
    }).join('')
  }
  const nodes = children.get('/') || []
  $('tree').innerHTML = nodes.length ? build('/') : '<li class="note">(empty)</li>'
}

async function refreshTree() {
  const dirs = [...open].sort()
  for (const d of dirs) {
    try { await loadDir(d) } catch { /* keep what we had */ }
  }
  renderTree()
  if (selected) showKey(selected, false)
}

async function showKey(key, scroll) {
  const r = await getJSON('/v2/keys' + keyPath(key))
  const info = $('keyinfo')
  if (r.status !== 200 || !r.body.node) {
    info.innerHTML = '<p class="note">' + esc(key) + ': ' + esc((r.body && r.body.message) || 'gone') + '</p>'
    return
  }
  const n = r.body.node
  let pretty = n.value
  if (!n.dir) {
    try { pretty = JSON.stringify(JSON.parse(n.value), null, 2) } catch { /* not JSON */ }
  }
  info.innerHTML = '<dl><dt>key</dt><dd>' + esc(n.key) + '</dd>' +
    '<dt>type</dt><dd>' + (n.dir ? 'directory' : 'value') + '</dd>' +
    '<dt>createdIndex</dt><dd>' + n.createdIndex + '</dd><dt>modifiedIndex</dt><dd>' + n.modifiedIndex + '</dd>' +
    (n.ttl !== undefined ? '<dt>ttl</dt><dd>' + n.ttl + ' s</dd><dt>expiration</dt><dd>' + esc(n.expiration) + '</dd>' : '<dt>ttl</dt><dd>none</dd>') +
    (n.dir ? '<dt>children</dt><dd>' + (n.nodes || []).length + '</dd>' : '') + '</dl>' +
    (n.dir ? '' : '<pre>' + esc(pretty) + '</pre>')
  if (scroll) info.scrollTop = 0
}

$('tree').addEventListener('click', async (ev) => {
  const li = ev.target.closest('li[data-key]')
  if (!li) return
  const key = li.dataset.key
  selected = key
  if (li.classList.contains('dir')) {
    if (open.has(key)) open.delete(key)
    else { open.add(key); await loadDir(key) }
  }
  renderTree()
  showKey(key, true)
})
$('tree-refresh').addEventListener('click', () => treeChanged())

/**
 * Runs `fn` soon after a change: `delay` ms after the first change of a burst, and at most once per
 * `minGap` ms, so a busy cluster does not turn the page into a load generator.
 */
function throttled(fn, delay, minGap) {
  let timer = null
  let running = false
  let again = false
  let last = 0
  const schedule = () => {
    if (timer) return
    if (running) { again = true; return } // a change during a run gets a run of its own
    const wait = Math.max(delay, last + minGap - Date.now())
    timer = setTimeout(async () => {
      timer = null
      running = true
      last = Date.now()
      try { await fn() } catch { /* member down: the loops retry */ }
      running = false
      if (again) { again = false; schedule() }
    }, wait)
  }
  return schedule
}
// The open directories are reloaded after changes (new keys show within ~0.1-0.5 s).
const treeChanged = throttled(() => refreshTree(), 100, 500)

// ---- event stream ----------------------------------------------------------------------------

const MAX_EVENTS = 200
const firstSeen = new Map() // key@createdIndex -> time first known to this page

function renderEvent(e) {
  const n = e.node || {}
  const li = document.createElement('li')
  li.className = 'fresh'
  li.dataset.key = n.key || ''
  li.dataset.action = e.action
  li.innerHTML = '<span class="t">' + clock(Date.now()) + '</span> <span class="a a-' + esc(e.action) + '">' + esc(e.action) + '</span> ' +
    esc(n.key || '') + (n.dir ? '/' : '') + (n.value !== undefined ? ' = ' + esc(short(n.value, 60)) : '') +
    (n.ttl !== undefined ? ' <span class="ttl">ttl ' + n.ttl + 's</span>' : '') + ' <span class="i">#' + (n.modifiedIndex || '') + '</span>'
  const list = $('events')
  list.insertBefore(li, list.firstChild)
  setTimeout(() => li.classList.remove('fresh'), 50)
  while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild)
}

async function watchLoop() {
  let waitIndex = 0
  for (;;) {
    try {
      const q = '?wait=true&recursive=true' + (waitIndex ? '&waitIndex=' + waitIndex : '')
      const r = await fetch(BASE + '/v2/keys/' + q, { cache: 'no-store' })
      const j = await r.json()
      if (j.errorCode === 401) {
        // Fell out of the event history (1000 events): continue from now.
        waitIndex = 0
        $('events-state').textContent = 'recursive watch on / (skipped events: history cleared)'
        continue
      }
      if (j.errorCode) throw new Error(j.message)
      $('events-state').textContent = 'recursive watch on / · live'
      waitIndex = j.node.modifiedIndex + 1
      if (j.node && (j.action === 'create' || j.action === 'set')) firstSeen.set(j.node.key + '@' + j.node.createdIndex, Date.now())
      renderEvent(j)
      treeChanged()
      recipesChanged()
    } catch (e) {
      $('events-state').textContent = 'recursive watch on / · reconnecting (' + (e.message || e) + ')'
      await sleep(1000)
    }
  }
}

// ---- recipes ---------------------------------------------------------------------------------

function owner(n) {
  if (n.dir || typeof n.value !== 'string' || n.value[0] !== '{') return undefined
  try {
    const v = JSON.parse(n.value)
    return v && typeof v === 'object' && typeof v.nonce === 'string' ? v : undefined
  } catch { return undefined }
}

function since(n, loadedAt) {
  const k = n.key + '@' + n.createdIndex
  if (!firstSeen.has(k)) firstSeen.set(k, -loadedAt) // negative: already there when first seen
  const t = firstSeen.get(k)
  // The v2 API keeps no creation time: this is when the page first saw the key (≤: it already existed).
  return '<span title="createdIndex ' + n.createdIndex + '">' + (t < 0 ? '≤ ' : '') + clock(Math.abs(t)) + '</span>'
}

/** Finds locks, elections and services in a recursive listing; tolerant of unknown layouts. */
function classify(root) {
  const locks = []
  const elections = []
  const services = []
  const walk = (dir) => {
    const kids = dir.nodes || []
    const recipeKids = kids.filter((k) => !k.dir && owner(k))
    const top = dir.key ? dir.key.split('/')[1] : ''
    if (recipeKids.length && (top === 'services' || /service/i.test(dir.key || ''))) {
      for (const k of recipeKids) services.push({ service: dir.key, node: k, data: owner(k).data })
    } else if (recipeKids.length && recipeKids.every((k) => /^\d+$/.test(k.key.slice(k.key.lastIndexOf('/') + 1)))) {
      // In-order keys: a fair queue. Lowest createdIndex holds (lock) or leads (election).
      const q = recipeKids.slice().sort((a, b) => a.createdIndex - b.createdIndex)
      const vals = q.map(owner)
      const path = dir.key || '/'
      if (/queue|job|task|work|barrier|claim/i.test(path) && !/lock|elect|leader/i.test(path)) { /* not a lock */ }
      else if (/elect|leader|campaign/i.test(path) || (!/lock|sem|mutex/i.test(path) && vals.some((v) => 'data' in v))) {
        elections.push({ key: path, leader: q[0], value: vals[0].data, owner: vals[0].owner, candidates: q.length })
      } else {
        const kind = vals.some((v) => v.mode) ? 'rw-lock' : /sem/i.test(path) ? 'semaphore' : 'lock'
        locks.push({ key: path, kind, holder: q[0], owner: vals[0].owner, mode: vals[0].mode, waiting: q.length - 1 })
      }
    } else {
      // A mutex is a single TTL'd key holding an owner value.
      for (const k of recipeKids) {
        if (k.ttl !== undefined && /lock|mutex/i.test(k.key)) locks.push({ key: k.key, kind: 'mutex', holder: k, owner: owner(k).owner, waiting: 0 })
      }
    }
    for (const k of kids) if (k.dir) walk(k)
  }
  walk(root)
  return { locks, elections, services }
}

function rowsOrEmpty(rows, cols, what) {
  return rows.length ? rows.join('') : '<tr class="empty"><td colspan="' + cols + '">no ' + what + '</td></tr>'
}

// The recipes panel reads the whole tree: at most every 2 s after changes.
const recipesChanged = throttled(() => refreshRecipes(), 200, 2000)

async function refreshRecipes() {
  const loadedAt = Date.now()
  const r = await getJSON('/v2/keys/?recursive=true&sorted=true', 5000)
  if (r.status !== 200 || !r.body.node) return
  const { locks, elections, services } = classify(r.body.node)
  $('locks').querySelector('tbody').innerHTML = rowsOrEmpty(locks.map((l) =>
    '<tr data-key="' + esc(l.key) + '"><td title="' + esc(l.kind) + '">' + esc(l.key) + (l.kind !== 'lock' ? ' <span class="sub">' + esc(l.kind) + '</span>' : '') + '</td>' +
    '<td>' + esc(l.owner || short(l.holder.key.slice(l.holder.key.lastIndexOf('/') + 1), 24)) + (l.mode ? ' (' + esc(l.mode) + ')' : '') + '</td>' +
    '<td class="num" title="' + esc(clusterId + ':' + l.holder.createdIndex) + '">' + l.holder.createdIndex + '</td>' +
    '<td>' + since(l.holder, loadedAt) + '</td><td class="num">' + (l.holder.ttl !== undefined ? l.holder.ttl + 's' : '—') + '</td>' +
    '<td class="num">' + l.waiting + '</td></tr>'), 6, 'locks held')
  $('elections').querySelector('tbody').innerHTML = rowsOrEmpty(elections.map((e) =>
    '<tr data-key="' + esc(e.key) + '"><td>' + esc(e.key) + '</td><td>' + esc(e.owner || short(e.leader.key.slice(e.leader.key.lastIndexOf('/') + 1), 24)) + '</td>' +
    '<td class="num">' + e.leader.createdIndex + '</td><td>' + esc(short(e.value === undefined ? '' : JSON.stringify(e.value), 40)) + '</td>' +
    '<td>' + since(e.leader, loadedAt) + '</td><td class="num">' + e.candidates + '</td></tr>'), 6, 'elections')
  $('services').querySelector('tbody').innerHTML = rowsOrEmpty(services.map((s) =>
    '<tr data-key="' + esc(s.node.key) + '"><td>' + esc(s.service.slice(s.service.lastIndexOf('/') + 1)) + '</td>' +
    '<td>' + esc(s.node.key.slice(s.node.key.lastIndexOf('/') + 1)) + '</td><td>' + esc(short(s.data === undefined ? '' : JSON.stringify(s.data), 40)) + '</td>' +
    '<td class="num">' + (s.node.ttl !== undefined ? s.node.ttl + 's' : '—') + '</td><td>' + since(s.node, loadedAt) + '</td></tr>'), 5, 'registered instances')
  $('recipes-note').textContent = 'Found by shape: values with a recipe nonce; in-order keys = fair lock/election queues (lowest createdIndex holds); ' +
    '/services/<service>/<id> = registrations. Refreshed on every event and every 5 s.'
}

// Periodic refreshes (TTL countdowns, missed events) go through the same throttles, so runs never
// overlap and an older listing can never be drawn over a newer one.
async function recipesLoop() {
  for (;;) {
    recipesChanged()
    await sleep(5000)
  }
}

async function treeLoop() {
  for (;;) {
    treeChanged()
    await sleep(5000)
  }
}

membersLoop()
ratesLoop()
watchLoop()
recipesLoop()
treeLoop()
