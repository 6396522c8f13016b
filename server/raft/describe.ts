// One-line renderers for messages, entries and Ready batches: used in simulation traces, failure
// reports and golden tests. Pure string building, no I/O.
import type { Entry, Message, Ready } from './types.js'
import { EntryType } from './types.js'

/** Shortens a 16-hex-digit id for traces ("000000000000000a" -> "a"). */
export function shortId(id: string): string {
  if (id === '') return '-'
  const s = id.replace(/^0+/, '')
  return s === '' ? '0' : s
}

function clip(s: string, n = 24): string {
  return s.length <= n ? s : s.slice(0, n) + '…'
}

/** "3/7 cc:{...}" or "3/7 'data'" (term/index). */
export function describeEntry(e: Entry): string {
  const body = e.type === EntryType.ConfChange ? `cc:${clip(e.data, 48)}` : e.data === '' ? 'noop' : `'${clip(e.data)}'`
  return `${e.term}/${e.index} ${body}`
}

export function describeEntries(ents: readonly Entry[]): string {
  if (ents.length === 0) return '[]'
  if (ents.length <= 3) return `[${ents.map(describeEntry).join(', ')}]`
  return `[${describeEntry(ents[0]!)} .. ${describeEntry(ents[ents.length - 1]!)} (${ents.length})]`
}

/** "1->2 App t3 lt2 i5 c4 [..]" with the fields that matter for the type. */
export function describeMessage(m: Message): string {
  let s = `${shortId(m.from)}->${shortId(m.to)} ${m.type} t${m.term}`
  switch (m.type) {
    case 'App':
      s += ` lt${m.logTerm} i${m.index} c${m.commit} ${describeEntries(m.entries)}`
      break
    case 'AppResp':
      s += m.reject ? ` reject i${m.index} hint${m.rejectHint} lt${m.logTerm}` : ` i${m.index}`
      break
    case 'Vote':
    case 'PreVote':
      s += ` lt${m.logTerm} i${m.index}` + (m.context ? ` ${m.context}` : '')
      break
    case 'VoteResp':
    case 'PreVoteResp':
      s += m.reject ? ' rejected' : ' granted'
      break
    case 'Heartbeat':
      s += ` c${m.commit}` + (m.context ? ` ctx=${clip(m.context, 12)}` : '')
      break
    case 'HeartbeatResp':
      s += m.context ? ` ctx=${clip(m.context, 12)}` : ''
      break
    case 'Snap':
      s += m.snapshot ? ` snap@${m.snapshot.metadata.term}/${m.snapshot.metadata.index}` : ''
      break
    case 'Prop':
      s += ` ${describeEntries(m.entries)}`
      break
    case 'ReadIndex':
    case 'ReadIndexResp':
      s += ` i${m.index} ctx=${clip(m.context ?? '', 12)}`
      break
    case 'SnapStatus':
      s += m.reject ? ' failed' : ' ok'
      break
  }
  return s
}

/** Summary of a Ready: "ss=leader/1 hs=3,1,7 ents=[..] snap@.. committed=[..] msgs=4 reads=1 sync". */
export function describeReady(rd: Ready): string {
  const parts: string[] = []
  if (rd.softState) parts.push(`ss=${rd.softState.role}/${shortId(rd.softState.lead)}`)
  if (rd.hardState) parts.push(`hs=t${rd.hardState.term},v${shortId(rd.hardState.vote)},c${rd.hardState.commit}`)
  if (rd.snapshot) parts.push(`snap@${rd.snapshot.metadata.term}/${rd.snapshot.metadata.index}`)
  if (rd.entries.length) parts.push(`ents=${describeEntries(rd.entries)}`)
  if (rd.committedEntries.length) parts.push(`committed=${describeEntries(rd.committedEntries)}`)
  if (rd.messages.length) parts.push(`msgs=${rd.messages.length}`)
  if (rd.readStates.length) parts.push(`reads=${rd.readStates.map((r) => `${r.index}:${clip(r.context, 12)}`).join(',')}`)
  if (rd.mustSync) parts.push('sync')
  return parts.join(' ')
}
