// A WASI command in JavaScript: prints, reads its arguments, environment and stdin, writes
// and reads a file in a preopened directory, sleeps, and exits with a code.
//
//   js-cli-app [ARGS...] [EXIT_CODE]   (the last argument, as a number; default 0)
//
// The same program as examples/wasi/hello.c and examples/python/cli_app.py. componentize-js
// (StarlingMonkey) has no Node APIs (no fs, no process), so stdin, files and the sleep go
// through WASI 0.2's own interfaces, imported by name. wasi:cli/exit says only ok or error,
// so any non-zero code reaches the host as status 1 (wasmtime does the same).

import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exit } from 'wasi:cli/exit@0.2.12';
import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { now, subscribeDuration } from 'wasi:clocks/monotonic-clock@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

function errorCode(e) {
  return e && e.payload !== undefined ? JSON.stringify(e.payload) : String(e);
}

function readStdin() {
  const stdin = getStdin();
  const chunks = [];
  for (;;) {
    let chunk;
    try {
      chunk = stdin.blockingRead(4096n);
    } catch (e) {
      break;  // closed: the end of the input
    }
    chunks.push(chunk);
  }
  let total = 0, hash = 0;
  for (const chunk of chunks) {
    for (const byte of chunk) hash = (Math.imul(hash, 31) + byte) >>> 0;
    total += chunk.length;
  }
  return [total, hash];
}

function fileRoundTrip() {
  const data = getDirectories().find(([, path]) => path === '/data');
  if (!data) {
    console.log('no /data: No such file or directory');
    return;
  }
  const dir = data[0];
  const text = 'written by the guest\n';
  try {
    const file = dir.openAt({}, 'hello.txt', { create: true, truncate: true }, { write: true });
    const out = file.writeViaStream(0n);
    out.blockingWriteAndFlush(new TextEncoder().encode(text));
  } catch (e) {
    console.log(`write failed: ${errorCode(e)}`);
    return;
  }
  try {
    const file = dir.openAt({}, 'hello.txt', {}, { read: true });
    const [bytes] = file.read(64n, 0n);
    const line = new TextDecoder().decode(bytes).split('\n')[0];
    console.log(`file: ${line}`);
  } catch (e) {
    console.log(`read back failed: ${errorCode(e)}`);
  }
}

export const run = {
  run() {
    const argv = getArguments();
    console.log(`hello from JavaScript, argc=${argv.length}`);
    argv.slice(1).forEach((a, i) => console.log(`arg ${i + 1}: ${a}`));
    const env = new Map(getEnvironment());
    console.log(`GREETING=${env.get('GREETING') ?? '(unset)'}`);
    const [total, hash] = readStdin();
    console.log(`stdin: ${total} bytes, hash ${hash}`);
    fileRoundTrip();
    const before = now();
    subscribeDuration(50_000_000n).block();
    const sleptMs = (now() - before) / 1_000_000n;
    console.log(`slept at least 50 ms: ${sleptMs >= 50n ? 'yes' : 'no'}`);
    const code = argv.length > 1 ? Number.parseInt(argv[argv.length - 1], 10) || 0 : 0;
    console.error(`exiting with ${code}`);
    if (code !== 0) exit({ tag: 'err', val: undefined });
  }
};
