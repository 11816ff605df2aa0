import { expect } from 'chai';
import { loadProtoRoot } from '../../messages/codec.js';
import * as wire from '../../cni/wire.js';

const root = loadProtoRoot(['infra/v1/errors.proto', 'infra/v1/cni.proto']);
const decode = (type: string, b: Uint8Array): Record<string, unknown> => {
  const t = root.lookupType(`infra.v1.${type}`);
  return t.toObject(t.decode(b), { longs: Number, defaults: true });
};
const encode = (type: string, o: Record<string, unknown>): Uint8Array => {
  const t = root.lookupType(`infra.v1.${type}`);
  return t.encode(t.fromObject(o)).finish();
};

describe('CNI wire codec (hand-written) against protobufjs and proto/infra/v1/cni.proto', function () {
  const ref = { containerId: 'c'.repeat(200), netns: '/var/run/netns/ü', ifname: 'eth0', podNamespace: 'ns', podName: 'p', network: 'net' };
  const addressing = {
    ips: [{ address: 0xc0a80105, prefixLength: 24, gateway: 0xc0a80101 }],
    routes: [{ dst: 0, dstPrefixLength: 0, gateway: 0xffffffff }, { dst: 0x0a000000, dstPrefixLength: 8, gateway: 0 }],
    mtu: 9000,
  };

  it('requests decode with protobufjs to the same values (high addresses, 0 = absent, long and UTF-8 strings)', () => {
    expect(decode('CniAddRequest', wire.encodeAddRequest({ ...ref, ...addressing }))).to.deep.equal({ ...ref, ...addressing });
    expect(decode('CniDelRequest', wire.encodeDelRequest(ref))).to.deep.equal(ref);
    const check = { ...ref, ...addressing, mac: '02:00:00:00:00:01' };
    expect(decode('CniCheckRequest', wire.encodeCheckRequest(check))).to.deep.equal(check);
  });

  it('replies encoded by protobufjs decode by hand, errors included, unknown fields skipped', () => {
    const reply = { ifname: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/x', portId: 4_000_000_000 };
    expect(wire.decodeAddReply(encode('CniAddReply', reply))).to.deep.equal(reply);
    const failed = wire.decodeAddReply(encode('CniAddReply', { error: { code: 6, message: 'taken', field: 'ips[0]' } }));
    expect(failed.error).to.deep.equal({ code: 6, message: 'taken', field: 'ips[0]' });
    const withUnknown = Buffer.concat([Buffer.from([0x30, 0x96, 0x01, 0x5a, 0x01, 0x41]), encode('CniDelReply', { error: { code: 5 } })]);
    expect(wire.decodeStatusReply(withUnknown).error).to.deep.equal({ code: 5, message: '', field: '' });
  });

  it('truncated replies throw instead of returning garbage', () => {
    const bytes = encode('CniAddReply', { ifname: 'eth0', mac: '02:00:00:00:00:01' });
    expect(() => wire.decodeAddReply(bytes.subarray(0, bytes.length - 3))).to.throw(/truncated/);
  });
});
