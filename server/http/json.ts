// JSON text for HTTP bodies exactly as Go's encoding/json writes it (GEN-7). The escaping itself
// lives in the store (server/store/json.ts, shared so both layers write identical bytes); this
// module adds the body shapes the HTTP layer needs. No I/O here.
import { goJSON } from '../store/json.js'

export { goJSON }

/** Go's `json.NewEncoder(w).Encode(v)`: compact JSON plus a trailing newline. */
export function goJSONLine(value: unknown): string {
  return goJSON(value) + '\n'
}
