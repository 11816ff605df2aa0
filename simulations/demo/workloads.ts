/**
 * What runs inside the demo's and the end-to-end tests' pods: small Node.js programs passed to
 * `node -e` under `ip netns exec <pod>` (Node is on every node; nothing to install in a pod).
 * Each prints one line a caller can parse.
 *
 * @example
 * spawn('ip', ['netns', 'exec', pod, process.execPath, '-e', nameServer('web-1', 8080, 5353)]);
 */

/** A TCP echo server on `port`: prints "listening" once bound. */
export const echoServer = (port: number): string =>
  `require('net').createServer((s)=>s.pipe(s)).listen(${port},'0.0.0.0',()=>console.log('listening'))`;

/**
 * A server that answers every TCP connection with `name` and closes, and every UDP datagram
 * with `name:<datagram>`; prints "listening" once both are bound.
 */
export const nameServer = (name: string, tcp: number, udp: number): string =>
  `require('net').createServer((s)=>s.end('${name}')).listen(${tcp},'0.0.0.0',()=>{` +
  `const u=require('dgram').createSocket('udp4');u.on('message',(m,r)=>u.send('${name}:'+m,r.port,r.address));` +
  `u.bind(${udp},'0.0.0.0',()=>console.log('listening'))})`;

/** Connects, sends `text`, prints the echo (or "ERR <code>" / "TIMEOUT"). */
export const echoClient = (ip: string, port: number, text: string, timeoutMs = 3000): string =>
  `const s=require('net').connect(${port},'${ip}',()=>s.write('${text}'));let got='';` +
  `s.on('data',(d)=>{got+=d;if(got.length>=${text.length}){console.log(got);process.exit(0)}});` +
  `s.on('error',(e)=>{console.log('ERR '+e.code);process.exit(0)});setTimeout(()=>{console.log('TIMEOUT');process.exit(0)},${timeoutMs})`;

/**
 * `n` TCP connections to ip:port, `parallel` at a time, each reading what the server says;
 * prints {"seen":{name:count…},"ms":elapsed}.
 */
export const fanOut = (ip: string, port: number, n: number, parallel = 10): string =>
  `const net=require('net');const seen={};let left=${n},running=0;const t0=Date.now();` +
  `function one(){if(left===0){if(running===0){console.log(JSON.stringify({seen,ms:Date.now()-t0}));process.exit(0)}return}left--;running++;` +
  `const s=net.connect(${port},'${ip}');let got='';s.on('data',(d)=>got+=d);` +
  `const done=(k)=>{seen[k]=(seen[k]||0)+1;running--;one()};s.on('end',()=>done(got||'EMPTY'));s.on('error',(e)=>done('ERR '+e.code));s.setTimeout(3000,()=>{s.destroy();done('TIMEOUT')})}` +
  `for(let i=0;i<${parallel};i++)one();`;

/**
 * New TCP connections to ip:port for `ms`, one after another; prints one JSON line per second:
 * {"t":seconds,"seen":{name:count…}} (what answered during that second).
 */
export const steadyConnections = (ip: string, port: number, ms: number): string =>
  `const net=require('net');const t0=Date.now();let seen={},sec=1;` +
  `const flush=()=>{console.log(JSON.stringify({t:sec++,seen}));seen={}};const iv=setInterval(flush,1000);` +
  `function one(){if(Date.now()-t0>${ms}){clearInterval(iv);flush();process.exit(0)}` +
  `const s=net.connect(${port},'${ip}');let got='';s.on('data',(d)=>got+=d);` +
  `const done=(k)=>{seen[k]=(seen[k]||0)+1;setTimeout(one,5)};s.on('end',()=>done(got||'EMPTY'));s.on('error',(e)=>done('ERR '+e.code));s.setTimeout(2000,()=>{s.destroy();done('TIMEOUT')})}one();`;

/** One UDP request; prints the reply or TIMEOUT. */
export const udpAsk = (ip: string, port: number, text: string, timeoutMs = 2000): string =>
  `const u=require('dgram').createSocket('udp4');u.on('message',(m)=>{console.log(String(m));process.exit(0)});` +
  `u.send('${text}',${port},'${ip}');setTimeout(()=>{console.log('TIMEOUT');process.exit(0)},${timeoutMs})`;

/**
 * Sends a line every 50 ms on one connection for `ms`, checking each echo; prints
 * {"sent","echoed","err","lastEchoMs"} when the connection closes — or, err "stuck", 8 s after
 * `ms` if it never does (a path that stopped carrying the connection), with when the last echo came.
 */
export const chatter = (ip: string, port: number, ms: number): string =>
  `const s=require('net').connect(${port},'${ip}');let sent=0,got='',err='',last=0;const t0=Date.now();` +
  `const done=(e)=>{const lines=got.split('\\n').filter(Boolean);console.log(JSON.stringify({sent,echoed:lines.length,err:e||err,lastEchoMs:last}));process.exit(0)};` +
  `s.on('connect',()=>{const iv=setInterval(()=>{if(Date.now()-t0>${ms}){clearInterval(iv);s.end();return}s.write('m'+(sent++)+'\\n')},50)});` +
  `s.on('data',(d)=>{got+=d;last=Date.now()-t0});s.on('error',(e)=>err=e.code);` +
  `s.on('close',()=>done(''));setTimeout(()=>done('stuck'),${ms}+8000);`;
