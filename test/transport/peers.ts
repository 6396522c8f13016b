// Shared by the transport suites' peer-restart tests.

import type { Message, NodeId } from '../../server/raft/types.js'
import type { HttpTransport } from '../../server/transport/http-transport.js'
import { until } from '../support/wait.js'

/**
 * Sends `m` from `a` to `b`, waits for `b` to receive it, then stops `b`. Returns the list of the
 * peers `a` reports unreachable, filled as the reports come (from before `b` stopped).
 */
export async function deliverThenStop(a: HttpTransport, b: HttpTransport, m: Message): Promise<NodeId[]> {
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  let n = 0
  b.onMessage(() => n++)
  a.send([m])
  await until(() => n === 1)
  await b.stop()
  return unreachable
}
