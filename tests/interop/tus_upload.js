// Uploads a file with tus-js-client speaking the IETF resumable-upload
// draft (its protocol 'ietf-draft-05', Upload-Draft-Interop-Version: 6),
// for tests/e2e/test_interop_tus.py. Prints one JSON line per event:
// {"url": ...} once the upload resource is known, {"chunk": offset} after
// each PATCH, {"aborted": offset} or {"done": true}. Exit 1 on an error.
//
//   node tus_upload.js FILE ENDPOINT [--chunk BYTES] [--abort-after N]
//                      [--upload-url URL] [--during-creation]
'use strict'
const fs = require('fs')
const tus = require('tus-js-client')

const args = process.argv.slice(2)
const file = args[0]
const endpoint = args[1]
let chunkSize = Infinity
let abortAfter = -1
let uploadUrl = null
let duringCreation = false
for (let i = 2; i < args.length; i++) {
  if (args[i] === '--chunk') chunkSize = Number(args[++i])
  else if (args[i] === '--abort-after') abortAfter = Number(args[++i])
  else if (args[i] === '--upload-url') uploadUrl = args[++i]
  else if (args[i] === '--during-creation') duringCreation = true
  else { console.error('unknown argument ' + args[i]); process.exit(2) }
}
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const data = fs.readFileSync(file)
let chunks = 0
const upload = new tus.Upload(data, {
  endpoint,
  uploadUrl,
  protocol: 'ietf-draft-05',
  chunkSize,
  uploadDataDuringCreation: duringCreation,
  retryDelays: null,
  storeFingerprintForResuming: false,
  onUploadUrlAvailable () { say({ url: upload.url }) },
  onChunkComplete (size, accepted) {
    chunks++
    say({ chunk: accepted })
    if (chunks === abortAfter) {
      upload.abort().then(() => { say({ aborted: accepted }); process.exit(0) })
    }
  },
  onSuccess () { say({ done: true }) },
  onError (e) { console.error(String(e)); process.exit(1) }
})
upload.start()
// Bounded: a test never waits on a client that hangs.
setTimeout(() => { console.error('timed out'); process.exit(3) }, 60000).unref()
