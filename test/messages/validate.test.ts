import { expect } from 'chai';
import { ValidationError } from '../../messages/errors.js';
import {
  containerId,
  dnsLabel,
  dnsSubdomain,
  formatIpv4,
  formatMac,
  interfaceName,
  ipv4Cidr,
  macToBytes,
  parseIpv4,
  port,
  unicastIpv4,
  unicastMac,
} from '../../messages/validate.js';

function rejects(fn: () => unknown, field: string): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ValidationError);
    expect((e as ValidationError).field).to.equal(field);
    return (e as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('validation of primitive values', () => {
  it('parses strict dotted IPv4 and formats it back', () => {
    expect(parseIpv4('10.244.0.5')).to.equal(0x0af40005);
    expect(formatIpv4(0x0af40005)).to.equal('10.244.0.5');
    for (const bad of ['10.244.0', '10.244.0.5.1', '010.0.0.1', '256.0.0.1', '1.2.3.-1', '1..2.3', ' 1.2.3.4', '1.2.3.4a']) {
      expect(parseIpv4(bad), bad).to.equal(undefined);
    }
  });

  it('accepts unicast IPv4 as a number or text and rejects the special ranges', () => {
    expect(unicastIpv4(0x0a000001, 'ip')).to.equal(0x0a000001);
    expect(unicastIpv4('192.168.1.1', 'ip')).to.equal(0xc0a80101);
    expect(rejects(() => unicastIpv4(0, 'ip'), 'ip')).to.match(/required/);
    expect(rejects(() => unicastIpv4('0.0.0.0', 'ip'), 'ip')).to.match(/0\.0\.0\.0\/8/);
    expect(rejects(() => unicastIpv4('127.0.0.1', 'ip'), 'ip')).to.match(/loopback/);
    expect(rejects(() => unicastIpv4('224.0.0.251', 'ip'), 'ip')).to.match(/multicast/);
    expect(rejects(() => unicastIpv4(0xffffffff, 'ip'), 'ip')).to.match(/broadcast/);
    expect(rejects(() => unicastIpv4(2 ** 32, 'ip'), 'ip')).to.match(/not an IPv4/);
    expect(rejects(() => unicastIpv4('', 'a.b'), 'a.b')).to.match(/required/);
  });

  it('accepts unicast MACs as 6 bytes or text and rejects zero, broadcast and multicast', () => {
    const mac = 0x02000af40007;
    expect(unicastMac(macToBytes(mac), 'mac')).to.equal(mac);
    expect(formatMac(mac)).to.equal('02:00:0a:f4:00:07');
    expect(unicastMac('02:00:0A:F4:00:07', 'mac')).to.equal(mac);
    expect(rejects(() => unicastMac(new Uint8Array(6), 'mac'), 'mac')).to.match(/all-zero/);
    expect(rejects(() => unicastMac(macToBytes(0xffffffffffff), 'mac'), 'mac')).to.match(/broadcast/);
    expect(rejects(() => unicastMac('01:00:5e:00:00:01', 'mac'), 'mac')).to.match(/multicast/);
    expect(rejects(() => unicastMac(new Uint8Array(5), 'mac'), 'mac')).to.match(/5 bytes/);
    expect(rejects(() => unicastMac('02:00:0a:f4:00', 'mac'), 'mac')).to.match(/not a MAC/);
  });

  it('checks ports, CIDRs, names and identifiers', () => {
    expect(port(1, 'p')).to.equal(1);
    expect(port(65535, 'p')).to.equal(65535);
    rejects(() => port(0, 'p'), 'p');
    rejects(() => port(65536, 'p'), 'p');
    rejects(() => port(-1, 'p'), 'p');
    rejects(() => port(1.5, 'p'), 'p');
    expect(ipv4Cidr('10.244.1.0/24', 'c')).to.deep.equal({ network: 0x0af40100, prefix: 24 });
    expect(rejects(() => ipv4Cidr('10.244.1.1/24', 'c'), 'c')).to.match(/host bits/);
    rejects(() => ipv4Cidr('10.244.1.0/33', 'c'), 'c');
    expect(dnsSubdomain('ip-10-0-0-1.ec2.internal', 'n')).to.equal('ip-10-0-0-1.ec2.internal');
    for (const bad of ['Node1', '-a', 'a-', 'a..b', '.a', 'a.', 'a_b', 'x'.repeat(64), 'é']) rejects(() => dnsSubdomain(bad, 'n'), 'n');
    expect(dnsLabel('kube-system', 'ns')).to.equal('kube-system');
    rejects(() => dnsLabel('a.b', 'ns'), 'ns');
    expect(containerId('9f86d081_ab.c-1', 'c')).to.equal('9f86d081_ab.c-1');
    rejects(() => containerId('-x', 'c'), 'c');
    rejects(() => containerId('a/b', 'c'), 'c');
    expect(interfaceName('P4TAP_2', 'i')).to.equal('P4TAP_2');
    for (const bad of ['', 'a'.repeat(16), 'a/b', 'a b', '..', 'a:b']) rejects(() => interfaceName(bad, 'i'), 'i');
  });
});
