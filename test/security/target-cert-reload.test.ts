/**
 * Certificate rotation on the target: new files that pass the start-up checks are served to new
 * connections within one interval; broken ones are refused and the last good certificate stays.
 */
import { expect } from 'chai';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { generateDeployment, deploymentPaths } from '../../deploy/certs/deployment.js';
import { silentLogs } from '../../core/logger.js';
import { ReloadingCertificates } from '../../p4/target/cert-reload.js';
import { P4RuntimeServer } from '../../p4/target/server.js';
import { modelDevice } from '../../p4/target/model-program.js';

const NODE = 'node-r';

/** The serial number of the certificate the server presents to a new connection (with a valid client cert). */
function presentedSerial(port: number, ca: Buffer, cert: Buffer, key: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, cert, key, servername: `target.${NODE}`, ALPNProtocols: ['h2'] });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('target certificate rotation', function () {
  this.timeout(30_000);
  let dir: string;
  let server: P4RuntimeServer | undefined;
  let certs: ReloadingCertificates | undefined;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ioff-reload-'));
  });

  after(async function () {
    certs?.close();
    await server?.close(200);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a rotated certificate to new connections, and keeps the last good one when the new files are broken', async function () {
    const out = join(dir, 'pki');
    await generateDeployment({ outDir: out, nodes: [NODE], days: 2 });
    const paths = deploymentPaths(out);
    // The server reads its own copies, so the test can break them without touching the PKI.
    const live = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'target.crt'), keyFile: join(dir, 'target.key') };
    await copyFile(paths.p4Ca.cert, live.caFile);
    await copyFile(paths.target(NODE).cert, live.certFile);
    await copyFile(paths.target(NODE).key, live.keyFile);
    const opened = ReloadingCertificates.open({ ...live, intervalMs: 100, logger: silentLogs().root });
    if (!opened.ok) throw opened.error;
    certs = opened.value;
    server = new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice() }], logger: silentLogs().root });
    const port = await server.listen('127.0.0.1:0', { cert: readFileSync(live.certFile), key: readFileSync(live.keyFile), ca: readFileSync(live.caFile), reload: certs });
    const client = { ca: readFileSync(paths.p4Ca.cert), cert: readFileSync(paths.p4Manager(NODE).cert), key: readFileSync(paths.p4Manager(NODE).key) };
    const first = await presentedSerial(port, client.ca, client.cert, client.key);
    expect(first.toLowerCase()).to.equal(certs.serial.toLowerCase());

    // Rotate: a new SAN makes the tooling reissue the target certificate (same CA).
    await generateDeployment({ outDir: out, nodes: [NODE], days: 2, targetSans: ['localhost', '127.0.0.1', 'acc.example'] });
    await copyFile(paths.target(NODE).key, live.keyFile);
    await copyFile(paths.target(NODE).cert, live.certFile);
    await sleep(400);
    const second = await presentedSerial(port, client.ca, client.cert, client.key);
    expect(second, 'a new serial after rotation').to.not.equal(first);
    expect(second.toLowerCase()).to.equal(certs.serial.toLowerCase());

    // Broken files: refused, the server goes on presenting the last good certificate.
    await writeFile(live.certFile, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    await sleep(400);
    expect(await presentedSerial(port, client.ca, client.cert, client.key)).to.equal(second);
    // A mismatched key (the old one with the new certificate) is refused too.
    await copyFile(paths.target(NODE).cert, live.certFile);
    await writeFile(live.keyFile, readFileSync(join(out, 'p4', `manager.${NODE}.key`)));
    await sleep(400);
    expect(await presentedSerial(port, client.ca, client.cert, client.key)).to.equal(second);
  });
});
