import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { formatPrefix, isIp, parseIp, parsePrefix, prefixContains, PrefixSet, formatIp } from './prefix.js';

/** Runs a Python snippet with JSON on stdin and returns its JSON stdout: `ipaddress` is the reference. */
function python(script: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', `import ipaddress,json,sys\ndata=json.load(sys.stdin)\n${script}`], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let seed = 12345;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * n);
}
function randomV4(): string {
  return [rnd(256), rnd(256), rnd(256), rnd(256)].join('.');
}
function randomV6(): string {
  // Many zero groups so that :: compression is exercised.
  const groups = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(0x10000)).toString(16));
  return groups.join(':');
}

function thrown(f: () => unknown): AppError {
  try {
    f();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parsePrefix / formatPrefix', () => {
  it('ok/canonical text agrees with python ipaddress for random v4 and v6 networks', () => {
    const inputs: string[] = [];
    for (let k = 0; k < 300; k++) {
      const v6 = k % 2 === 1;
      const len = rnd(v6 ? 129 : 33);
      inputs.push(`${v6 ? randomV6() : randomV4()}/${len}`);
    }
    // Python normalises host bits away (strict=False); we must refuse those but agree on the rest.
    const reference = python(
      'print(json.dumps([[str(ipaddress.ip_network(p, strict=False)), ipaddress.ip_network(p, strict=False).with_prefixlen == ipaddress.ip_interface(p).with_prefixlen] for p in data]))',
      inputs,
    ) as [string, boolean][];
    let hostBits = 0;
    inputs.forEach((text, k) => {
      const [canonical, exact] = reference[k] as [string, boolean];
      if (exact) {
        expect(formatPrefix(parsePrefix(text))).toBe(canonical);
      } else {
        hostBits++;
        const e = thrown(() => parsePrefix(text));
        expect(e.code).toBe('prefix.host_bits');
        expect(e.message).toBe(`${text} has host bits set; did you mean ${canonical}?`);
      }
    });
    expect(hostBits).toBeGreaterThan(50); // both branches were exercised
  });

  it('ok/the message from the brief', () => {
    expect(thrown(() => parsePrefix('175.198.195.7/24')).message).toBe(
      '175.198.195.7/24 has host bits set; did you mean 175.198.195.0/24?',
    );
  });

  it('ok/IPv6 text forms, case, bare addresses and RFC 5952 output', () => {
    expect(formatPrefix(parsePrefix('2001:DB8:0:0:0:0:0:0/32'))).toBe('2001:db8::/32');
    expect(formatPrefix(parsePrefix('2001:db8::1:0:0:1/128'))).toBe('2001:db8::1:0:0:1/128');
    expect(formatPrefix(parsePrefix('::/0'))).toBe('::/0');
    expect(formatPrefix(parsePrefix('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(formatPrefix(parsePrefix('10.1.2.3'))).toBe('10.1.2.3/32');
    expect(formatPrefix(parsePrefix(' fe80::1 '))).toBe('fe80::1/128');
    expect(formatPrefix(parsePrefix('::ffff:10.0.0.0/104'))).toBe('::ffff:10.0.0.0/104');
    expect(formatPrefix(parsePrefix('1:2:3:4:5:6:7::/128'))).toBe('1:2:3:4:5:6:7:0/128');
  });

  it('fail/malformed prefixes are refused with prefix.malformed naming the text', () => {
    for (const bad of [
      '',
      '/24',
      '10.0.0.0/',
      '10.0.0.0/33',
      '10.0.0.0/024',
      '10.0.0.0/-1',
      '10.0.0.0/+8',
      '10.0.0/24',
      '10.0.0.0.0/24',
      '256.0.0.0/8',
      '010.0.0.0/8',
      '10.0.0.0/8/8',
      '10.0.0.0 /8',
      '2001:db8::/129',
      '2001:db8:::/32',
      '2001::db8::/32',
      '1:2:3:4:5:6:7:8:9/128',
      '1:2:3:4:5:6:7:8::/128',
      '12345::/16',
      'g::/16',
      ':1::/16',
      'fe80::1%eth0/128',
      '1.2.3.4::/128',
      'example.com/24',
    ]) {
      const e = thrown(() => parsePrefix(bad));
      expect(e.code, bad).toBe('prefix.malformed');
      expect(e.kind).toBe('invalid');
      expect(e.message).toContain(JSON.stringify(bad));
    }
  });

  it('fail/host bits set are refused for IPv6 too', () => {
    const e = thrown(() => parsePrefix('2001:db8::1/64'));
    expect(e.code).toBe('prefix.host_bits');
    expect(e.message).toBe('2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?');
  });
});

describe('isIp / parseIp', () => {
  it('ok/agrees with python ipaddress on valid and invalid strings', () => {
    const candidates = [
      '1.2.3.4',
      '255.255.255.255',
      '0.0.0.0',
      '::',
      '::1',
      '::ffff:1.2.3.4',
      '64:ff9b::1.2.3.4',
      '2001:db8::',
      'fe80::1%eth0',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.4 ',
      ':::',
      '1::2::3',
      '::ffff:1.2.3',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '',
      'abc',
    ];
    for (let k = 0; k < 50; k++) candidates.push(randomV6(), randomV4());
    const reference = python(
      [
        'out=[]',
        'for s in data:',
        '    try:',
        '        a=ipaddress.ip_address(s); out.append(True)',
        '    except ValueError:',
        '        out.append(False)',
        'print(json.dumps(out))',
      ].join('\n'),
      candidates,
    ) as boolean[];
    candidates.forEach((c, k) => expect(isIp(c), c).toBe(reference[k]));
  });

  it('ok/formatIp agrees with python on random IPv6 addresses (RFC 5952)', () => {
    const addrs = Array.from({ length: 200 }, randomV6);
    const reference = python('print(json.dumps([ipaddress.IPv6Address(a).compressed for a in data]))', addrs) as string[];
    addrs.forEach((a, k) => {
      const ip = parseIp(a);
      expect(ip).not.toBeNull();
      const w = ip?.words ?? [];
      // Python writes mapped addresses in hex; RFC 5952 §5 (and we) keep the dotted tail.
      if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return;
      expect(formatIp(ip as NonNullable<typeof ip>)).toBe(reference[k]);
    });
  });
});

describe('prefixContains / PrefixSet', () => {
  it('ok/containment agrees with python ipaddress, including IPv4-mapped IPv6 addresses', () => {
    const prefixes: string[] = [];
    for (let k = 0; k < 60; k++) {
      const v6 = k % 3 === 2;
      const len = v6 ? rnd(129) : 8 + rnd(25);
      prefixes.push(`${v6 ? randomV6() : randomV4()}/${len}`);
    }
    prefixes.push('::ffff:10.0.0.0/104', '::ffff:0:0/96', '::/0', '::/64');
    // Normalise host bits away with python so every prefix parses; then test members and strangers.
    const nets = python('print(json.dumps([str(ipaddress.ip_network(p, strict=False)) for p in data]))', prefixes) as string[];
    const ips: string[] = [];
    for (const net of nets) {
      const p = parsePrefix(net);
      if (p.family === 4) {
        const base = formatIp(p);
        const parts = base.split('.').map(Number);
        parts[3] = ((parts[3] as number) + rnd(256)) & 255;
        ips.push(parts.join('.'), `::ffff:${parts.join('.')}`, randomV4());
      } else {
        ips.push(formatIp(p).replace(/::$/, '::1'), randomV6());
      }
    }
    const reference = python(
      [
        'M=ipaddress.ip_network("::ffff:0:0/96")',
        'def v4net(n):',
        '    if n.version==6 and n.prefixlen>=96 and n.subnet_of(M):',
        '        return ipaddress.ip_network(f"{n.network_address.ipv4_mapped}/{n.prefixlen-96}")',
        '    return n',
        'nets=[v4net(ipaddress.ip_network(n)) for n in data["nets"]]',
        'def norm(s):',
        '    a=ipaddress.ip_address(s)',
        '    return a.ipv4_mapped if a.version==6 and a.ipv4_mapped else a',
        'print(json.dumps([[norm(i) in n for n in nets] for i in data["ips"]]))',
      ].join('\n'),
      { nets, ips },
    ) as boolean[][];
    const parsed = nets.map(parsePrefix);
    const set = new PrefixSet(nets);
    let hits = 0;
    ips.forEach((ip, i) => {
      const row = reference[i] as boolean[];
      parsed.forEach((p, j) => expect(prefixContains(p, ip), `${ip} in ${nets[j]}`).toBe(row[j]));
      const any = row.some(Boolean);
      if (any) hits++;
      expect(set.contains(ip), ip).toBe(any);
    });
    expect(hits).toBeGreaterThan(30);
  });

  it('ok/IPv4-mapped addresses match IPv4 prefixes and the reverse', () => {
    const v4 = parsePrefix('175.198.195.0/24');
    expect(prefixContains(v4, '175.198.195.7')).toBe(true);
    expect(prefixContains(v4, '::ffff:175.198.195.7')).toBe(true);
    expect(prefixContains(v4, '::FFFF:AFC6:C307')).toBe(true); // same address in hex
    expect(prefixContains(v4, '::175.198.195.7')).toBe(false); // deprecated IPv4-compatible form is not mapped
    expect(prefixContains(v4, '64:ff9b::175.198.195.7')).toBe(false); // NAT64 is a different address
    expect(prefixContains(v4, '175.198.196.1')).toBe(false);
    const mapped = parsePrefix('::ffff:10.0.0.0/104');
    expect(prefixContains(mapped, '10.9.9.9')).toBe(true);
    expect(prefixContains(mapped, '11.0.0.0')).toBe(false);
    const v6 = parsePrefix('2001:db8:100::/40');
    expect(prefixContains(v6, '2001:db8:1ff:ffff::1')).toBe(true);
    expect(prefixContains(v6, '2001:db8:200::')).toBe(false);
    expect(prefixContains(v6, 'fe80::1%eth0')).toBe(false);
    expect(prefixContains(parsePrefix('fe80::/10'), 'fe80::1%eth0')).toBe(true);
    expect(prefixContains(parsePrefix('0.0.0.0/0'), '8.8.8.8')).toBe(true);
    // An IPv6 prefix that merely covers ::ffff:0:0/96 does not admit IPv4 peers (fail closed).
    expect(prefixContains(parsePrefix('::/0'), '8.8.8.8')).toBe(false);
    expect(prefixContains(parsePrefix('::/0'), '::ffff:8.8.8.8')).toBe(false);
    expect(prefixContains(parsePrefix('::ffff:0:0/96'), '8.8.8.8')).toBe(true);
    expect(new PrefixSet(['::/0']).contains('::ffff:8.8.8.8')).toBe(false);
    expect(new PrefixSet(['::ffff:8.8.0.0/112']).contains('8.8.1.1')).toBe(true);
  });

  it('fail/non-addresses are never contained', () => {
    const set = new PrefixSet(['0.0.0.0/0', '::/0']);
    for (const s of ['', 'localhost', '1.2.3.4/32', '1.2.3.04', '::g', '1.2.3.4\n', ' 1.2.3.4']) {
      expect(set.contains(s), JSON.stringify(s)).toBe(false);
      expect(prefixContains(parsePrefix('0.0.0.0/0'), s)).toBe(false);
    }
  });

  it('fail/PrefixSet refuses bad prefixes as it is built', () => {
    expect(thrown(() => new PrefixSet(['10.0.0.0/8', '10.0.0.1/8'])).code).toBe('prefix.host_bits');
    expect(thrown(() => new PrefixSet(['nope'])).code).toBe('prefix.malformed');
  });

  it('ok/match reports the most specific IPv4 prefix', () => {
    const set = new PrefixSet(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24']);
    expect(formatPrefix(set.match('10.1.2.3') as NonNullable<ReturnType<PrefixSet['match']>>)).toBe('10.1.2.0/24');
    expect(formatPrefix(set.match('10.1.9.3') as NonNullable<ReturnType<PrefixSet['match']>>)).toBe('10.1.0.0/16');
    expect(set.match('11.0.0.1')).toBeUndefined();
    expect(set.size).toBe(3);
  });

  it('ok/PrefixSet.contains is fast (timing printed)', () => {
    const set = new PrefixSet();
    for (let k = 0; k < 100_000; k++) set.add(`${10 + (k >>> 16)}.${(k >>> 8) & 255}.${k & 255}.0/24`);
    const ips = Array.from({ length: 100_000 }, () => randomV4());
    const t0 = performance.now();
    let n = 0;
    for (let r = 0; r < 10; r++) for (const ip of ips) if (set.contains(ip)) n++;
    const ms = performance.now() - t0;
    console.log(`PrefixSet: 1,000,000 lookups over 100,000 /24s in ${ms.toFixed(0)} ms (${n} hits)`);
    expect(set.contains('10.0.5.77')).toBe(true);
    expect(set.contains('::ffff:11.1.1.200')).toBe(true);
  });
});

describe('PrefixSet.contains memo', () => {
  it('ok/repeated and alternating addresses answer as the first time; fail/an added prefix is not hidden by a remembered answer', () => {
    const set = new PrefixSet(['175.0.1.0/24']);
    const asks = ['175.0.1.9', '175.0.1.9', '175.0.2.9', '175.0.2.9', '175.0.1.9', 'not-an-ip', 'not-an-ip', '175.0.2.9'];
    expect(asks.map((ip) => set.contains(ip))).toEqual([true, true, false, false, true, false, false, false]);
    set.add('175.0.2.0/24');
    expect(set.contains('175.0.2.9')).toBe(true);
    expect(set.contains('175.0.3.9')).toBe(false);
  });
});
