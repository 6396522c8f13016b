// A stop that takes a while (a leader whose followers are frozen cannot hand over): a repeat of
// the signal within half a second is the same stop (a terminal and npm both deliver one Ctrl-C)
// and it still exits 0; a second signal after that exits 1 at once.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { reservePorts } from '../support/ports.js'
import { cleanup, raftkv, tempDir, tryKill, waitFor, within, type Proc } from './proc.js'

const sig = suite('second signal')
sig.after(cleanup)

interface Member {
  name: string
  url: string
  proc: Proc
}

async function startCluster(): Promise<Member[]> {
  const ports = await reservePorts(6)
  const dir = tempDir()
  const peer = (i: number): string => `http://127.0.0.1:${ports[3 + i]}`
  const cluster = [0, 1, 2].map((i) => `s${i}=${peer(i)}`).join(',')
  return [0, 1, 2].map((i) => {
    const url = `http://127.0.0.1:${ports[i]}`
    const proc = raftkv([
      '--name', `s${i}`, '--data-dir', join(dir, `s${i}`),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
      '--initial-cluster', cluster, '--initial-cluster-token', 'second-signal',
    ])
    return { name: `s${i}`, url, proc }
  })
}

async function leaderOf(members: Member[]): Promise<Member> {
  let lead: Member | undefined
  await waitFor(async () => {
    const self = (await (await fetch(`${members[0]!.url}/v2/stats/self`)).json()) as { leaderInfo: { leader: string } }
    const list = (await (await fetch(`${members[0]!.url}/v2/members`)).json()) as { members: { id: string; name: string }[] }
    const name = list.members.find((m) => m.id === self.leaderInfo.leader)?.name
    lead = members.find((m) => m.name === name)
    return lead !== undefined
  }, 60_000, 'a leader')
  return lead!
}

/** Freezes the followers (SIGSTOP) so the leader's hand-over cannot finish; returns a thaw. */
function freezeFollowers(members: Member[], lead: Member): () => void {
  const followers = members.filter((m) => m !== lead)
  for (const f of followers) tryKill(f.proc.pid, 'SIGSTOP')
  return () => {
    for (const f of followers) tryKill(f.proc.pid, 'SIGCONT')
  }
}

sig('a repeat within half a second is the same stop (exit 0); a later second signal exits 1 at once', async () => {
  const members = await startCluster()
  const lead = await leaderOf(members)
  let thaw = freezeFollowers(members, lead)
  try {
    // repeat 20 ms later: ignored, the stop goes on and ends with exit 0
    lead.proc.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 20))
    lead.proc.child.kill('SIGTERM')
    const { code } = await within(lead.proc.exited, 20_000, 'leader exit')
    assert.is(code, 0, lead.proc.out().slice(-2000))
    assert.not.match(lead.proc.out(), /second signal/)
    assert.match(lead.proc.out(), /leadership hand-over did not complete before stopping/)
  } finally {
    thaw()
  }

  // the new leader of the two left: stop it with its follower frozen; a signal 0.8 s later exits at once
  const rest = members.filter((m) => m !== lead)
  const lead2 = await leaderOf(rest)
  thaw = freezeFollowers(rest, lead2)
  try {
    lead2.proc.child.kill('SIGTERM')
    await waitFor(() => lead2.proc.out().includes('received signal, shutting down'), 10_000, 'first signal handled')
    await new Promise((r) => setTimeout(r, 800))
    if (lead2.proc.child.exitCode !== null) assert.unreachable('the stop ended before the second signal; it cannot be tested this way')
    const sentAt = Date.now()
    lead2.proc.child.kill('SIGTERM')
    const { code } = await within(lead2.proc.exited, 5_000, 'exit after the second signal')
    assert.is(code, 1)
    assert.ok(Date.now() - sentAt < 1000, `exited ${Date.now() - sentAt} ms after the second signal`)
    assert.match(lead2.proc.out(), /second signal, exiting immediately/)
  } finally {
    thaw()
  }
})

sig.run()
