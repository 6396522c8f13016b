// JSON text for HTTP bodies exactly as Go's encoding/json writes it (GEN-7). The escaping itself
// lives in the store (server/store/json.ts), shared so that both layers write identical bytes;
// HTTP modules import it from here. No I/O here.
import { goJSON } from '../store/json.js'

export { goJSON }
