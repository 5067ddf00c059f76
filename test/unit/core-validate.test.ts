import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatus } from '../../src/adapters/cli/exit-status.js';
import * as v from '../../src/core/validate.js';
import { UserError } from '../../src/core/errors.js';

/** How a bad value must appear in the message: JSON-quoted, cut after 40 characters. */
const quoted = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);

/** Assert `run` refuses `value` with a one-line UserError that shows the value (and `also`, if given). */
function refuses(run: () => unknown, value: string, also?: RegExp): UserError {
  let caught: unknown;
  try {
    const got = run();
    assert.fail(`${JSON.stringify(value)} was accepted as ${JSON.stringify(got)}`);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof UserError, `${JSON.stringify(value)}: expected a UserError, got ${String(caught)}`);
  assert.ok(caught.message.includes(quoted(value)), `message ${JSON.stringify(caught.message)} does not show ${quoted(value)}`);
  assert.doesNotMatch(caught.message, /[\n\r]/, 'the message is one line');
  assert.equal(exitStatus(caught.kind), 2);
  if (also) assert.match(caught.message, also);
  return caught;
}

const SHELL_NASTIES = ['a;b', 'a$(id)', '$(id)', '`id`', 'a`id`', 'a b', "a'b", 'a"b', 'a\nb', 'a|b', 'a&b', 'a>b', 'a\\b', 'a\tb', 'a*', '~a', 'a\u0000b'];

describe('shown', () => {
  test('quotes the value as JSON so control characters stay on one line', () => {
    assert.equal(v.shown('a\nb'), '"a\\nb"');
    assert.equal(v.shown('a"b'), '"a\\"b"');
    assert.equal(v.shown('\u001b[31m'), '"\\u001b[31m"');
  });

  test('cuts long values after 40 characters', () => {
    assert.equal(v.shown('x'.repeat(40)), `"${'x'.repeat(40)}"`);
    assert.equal(v.shown('x'.repeat(41)), `"${'x'.repeat(40)}..."`);
    assert.equal(v.shown('y'.repeat(5000)).length, 45);
  });
});

describe('nodeName', () => {
  const good = ['h1', 'H1', 'a', '1', '0host', 'host-1', 'node.example.com', 'a-b.c-d', 'a'.repeat(63)];
  for (const name of good) {
    test(`accepts ${JSON.stringify(name)}`, () => assert.equal(v.nodeName(name), name));
  }
  const bad = ['', '-h', 'h-', '.h', 'h.', 'a'.repeat(64), 'a'.repeat(200), 'h_1', 'h/1', 'h:1', 'hé', 'h1\n', ...SHELL_NASTIES];
  for (const name of bad) {
    test(`refuses ${JSON.stringify(name)}`, () => {
      refuses(() => v.nodeName(name), name, /^invalid nodename /);
    });
  }
  test('names the key it was given', () => {
    refuses(() => v.nodeName('a;b', 'node_member'), 'a;b', /^invalid node_member "a;b": use 1-63 letters/);
  });
});

describe('vpcName', () => {
  const good = ['vpc1', 'v', 'my_vpc', 'a'.repeat(15), 'vxlan', 'vpc_2_x', 'lox', 'ally', 'bridgex'];
  for (const name of good) {
    test(`accepts ${JSON.stringify(name)}`, () => assert.equal(v.vpcName(name), name));
  }
  const reserved = ['vxlan5', 'vxlan100', 'lo', 'all', 'bridge', 'bridge0', 'bridge12', 'epair', 'epair3'];
  for (const name of reserved) {
    test(`refuses the reserved name ${name}`, () => {
      refuses(() => v.vpcName(name), name, /reserved for system interfaces/);
    });
  }
  const bad = ['', 'a'.repeat(16), 'a'.repeat(100), 'Vpc1', 'VPC', '1vpc', '_vpc', 'vpc-1', 'vpc.1', 'vpc1\n', '\nvpc1', ...SHELL_NASTIES];
  for (const name of bad) {
    test(`refuses ${JSON.stringify(name)}`, () => {
      refuses(() => v.vpcName(name), name, /^invalid vpc_name .*: use 1-15 lowercase letters/);
    });
  }
  test('names the key it was given', () => {
    refuses(() => v.vpcName('all', 'interface'), 'all', /^invalid interface "all"/);
  });
});

describe('jailName', () => {
  const good = ['j1', 'J1', 'web-1', 'web_1', 'a'.repeat(32)];
  for (const name of good) {
    test(`accepts ${JSON.stringify(name)}`, () => assert.equal(v.jailName(name), name));
  }
  const bad = ['', '1j', '123', '-j', '_j', 'j.1', 'a'.repeat(33), 'j1\n', ...SHELL_NASTIES];
  for (const name of bad) {
    test(`refuses ${JSON.stringify(name)}`, () => {
      refuses(() => v.jailName(name), name, /^invalid jname /);
    });
  }
});

describe('userName', () => {
  for (const name of ['root', '_svc', 'user-1', 'a'.repeat(32)]) {
    test(`accepts ${name}`, () => assert.equal(v.userName(name), name));
  }
  for (const name of ['', 'Root', '1user', 'a'.repeat(33), 'r;m', 'root\n', '$(id)']) {
    test(`refuses ${JSON.stringify(name)}`, () => {
      refuses(() => v.userName(name), name, /^invalid user /);
    });
  }
});

describe('IPv4 addresses', () => {
  const good = ['192.0.2.10', '10.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3.4'];
  for (const a of good) {
    test(`accepts ${a}`, () => {
      assert.equal(v.isIPv4(a), true);
      assert.equal(v.ipv4(a), a);
      assert.equal(v.address(a), a);
    });
  }
  // ipaddr.js's parse() reads these as octal, hex or short forms (010.1.1.1 is 8.1.1.1; 1.2.3 is
  // 1.2.0.3); isValidFourPartDecimal does not, and neither must we: the kernel would read them
  // differently from the user.
  const bad = ['010.1.1.1', '1.1.1.01', '127.000.000.001', '1.2.3', '127.1', '0x7f.0.0.1', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '', '1.2.3.4;id', '2001:db8::1', 'a.b.c.d'];
  for (const a of bad) {
    test(`refuses ${JSON.stringify(a)}`, () => {
      assert.equal(v.isIPv4(a), false);
      refuses(() => v.ipv4(a), a, /^invalid nodeip .*use an IPv4 address/);
    });
  }
});

describe('IPv6 addresses', () => {
  const good: Array<[string, string]> = [
    ['2001:db8::10', '2001:db8::10'],
    ['::1', '::1'],
    ['::', '::'],
    ['fe80::1', 'fe80::1'],
    ['2001:DB8::A', '2001:db8::a'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ];
  for (const [a, normal] of good) {
    test(`accepts ${a} as ${normal}`, () => {
      assert.equal(v.isIPv6(a), true);
      assert.equal(v.ipv6(a), normal);
      assert.equal(v.address(a), normal);
    });
  }
  const bad = ['fe80::1%eth0', 'fe80::1%1', '2001:db8::1/64', '[2001:db8::1]', ':::', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4', '2001:db8::1;id', '2001:db8::1 ', '', ':'];
  for (const a of bad) {
    test(`refuses ${JSON.stringify(a)}`, () => {
      assert.equal(v.isIPv6(a), false);
      refuses(() => v.ipv6(a), a, /^invalid nodeip6 .*use an IPv6 address/);
    });
  }
});

describe('address / nodeRef', () => {
  test('address takes either family and names its key', () => {
    assert.equal(v.address('192.0.2.1'), '192.0.2.1');
    assert.equal(v.address('2001:DB8::1'), '2001:db8::1');
    for (const a of ['h1', '1.2.3', 'fe80::1%eth0', '$(id)', '192.0.2.1 ']) refuses(() => v.address(a, 'sshAddress'), a, /^invalid sshAddress .*IPv4 or IPv6/);
  });

  test('nodeRef: an address (normalised) or a node name', () => {
    assert.equal(v.nodeRef('192.0.2.7'), '192.0.2.7');
    assert.equal(v.nodeRef('2001:DB8:0::7'), '2001:db8::7');
    assert.equal(v.nodeRef('h1'), 'h1');
    // Not an address, but a valid host name.
    assert.equal(v.nodeRef('1.2.3'), '1.2.3');
    for (const a of ['h;1', 'fe80::1%eth0', '', 'a'.repeat(64)]) refuses(() => v.nodeRef(a), a, /^invalid node /);
  });
});

describe('network (CIDR, no host bits)', () => {
  const good: Array<[string, v.Cidr]> = [
    ['10.100.0.0/24', { family: 4, address: '10.100.0.0', prefix: 24 }],
    ['0.0.0.0/0', { family: 4, address: '0.0.0.0', prefix: 0 }],
    ['10.0.0.1/32', { family: 4, address: '10.0.0.1', prefix: 32 }],
    ['10.0.0.0/8', { family: 4, address: '10.0.0.0', prefix: 8 }],
    ['10.100.0.0/30', { family: 4, address: '10.100.0.0', prefix: 30 }],
    ['2001:db8::/64', { family: 6, address: '2001:db8::', prefix: 64 }],
    ['2001:DB8:0::/48', { family: 6, address: '2001:db8::', prefix: 48 }],
    ['2001:db8::/120', { family: 6, address: '2001:db8::', prefix: 120 }],
    ['::/0', { family: 6, address: '::', prefix: 0 }],
    ['2001:db8::1/128', { family: 6, address: '2001:db8::1', prefix: 128 }],
  ];
  for (const [text, want] of good) {
    test(`accepts ${text}`, () => {
      const c = v.network(text, 'peer_network');
      assert.deepEqual(c, want);
      assert.equal(v.cidrText(c), `${want.address}/${want.prefix}`);
    });
  }

  test('a zero-padded prefix length is read as decimal and normalised away', () => {
    assert.equal(v.cidrText(v.network('10.0.0.0/024', 'peer_network')), '10.0.0.0/24');
  });

  test('host bits set: the error names the value and the network it meant', () => {
    refuses(() => v.network('10.100.0.1/24', 'peer_network'), '10.100.0.1/24', /^invalid peer_network .*host bits are set; the network is 10\.100\.0\.0\/24$/);
    refuses(() => v.network('10.100.0.4/29', 'peer_network'), '10.100.0.4/29', /the network is 10\.100\.0\.0\/29/);
    refuses(() => v.network('2001:db8::1/64', 'peer_network'), '2001:db8::1/64', /the network is 2001:db8::\/64/);
  });

  test('prefix longer than the family allows', () => {
    refuses(() => v.network('10.0.0.0/33', 'peer_network'), '10.0.0.0/33', /prefix length must be 0-32/);
    refuses(() => v.network('10.0.0.0/128', 'peer_network'), '10.0.0.0/128', /prefix length must be 0-32/);
    refuses(() => v.network('2001:db8::/129', 'peer_network'), '2001:db8::/129', /prefix length must be 0-128/);
  });

  const malformed = ['10.0.0.0', '10.0.0.0/', '/24', '10.0.0.0/1000', '10.0.0.0/-1', '10.0.0.0/ 24', ' 10.0.0.0/24', '10.0.0.0/24\n', '10.0.0.0/24;id', '$(id)/24', 'fe80::%eth0/64', '', '10.0.0.0/24/8'];
  for (const text of malformed) {
    test(`refuses malformed ${JSON.stringify(text)}`, () => {
      refuses(() => v.network(text, 'peer_network'), text, /^invalid peer_network .*use ADDRESS\/PREFIX/);
    });
  }

  const badAddress = ['1.2.3/24', '010.0.0.0/8', '256.0.0.0/8', 'a.b.c.d/24', '2001:db8:::/64', '1.2.3.4.5/8'];
  for (const text of badAddress) {
    test(`refuses ${JSON.stringify(text)}: the address part is not an address`, () => {
      refuses(() => v.network(text, 'peer_network'), text, /the address part is not an IPv4 or IPv6 address/);
    });
  }
});

describe('interfaceAddress', () => {
  const good: Array<[string, v.Cidr]> = [
    ['10.10.11.1/24', { family: 4, address: '10.10.11.1', prefix: 24 }],
    ['10.0.0.1/32', { family: 4, address: '10.0.0.1', prefix: 32 }],
    ['2001:db8::1/64', { family: 6, address: '2001:db8::1', prefix: 64 }],
    ['2001:DB8::A/64', { family: 6, address: '2001:db8::a', prefix: 64 }],
  ];
  for (const [text, want] of good) {
    test(`accepts ${text} (host bits allowed)`, () => assert.deepEqual(v.interfaceAddress(text, 'bridge_ips'), want));
  }
  const bad: Array<[string, RegExp]> = [
    ['0.0.0.0/24', /host address/],
    ['10.10.11.1', /ADDRESS\/PREFIX/],
    ['10.10.11.1/33', /0-32/],
    ['2001:db8::1/129', /0-128/],
    ['10.10.11.1/24 ', /ADDRESS\/PREFIX/],
    ['10.10.11.1/24,10.0.0.1/8', /ADDRESS\/PREFIX/],
    ['1.2.3/24', /not an IPv4 or IPv6/],
  ];
  for (const [text, why] of bad) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      refuses(() => v.interfaceAddress(text, 'bridge_ips'), text, why);
    });
  }
  test(
    'refuses the IPv6 unspecified address as it refuses 0.0.0.0',
    () => {
      refuses(() => v.interfaceAddress('::/64', 'bridge_ips'), '::/64', /host address/);
    },
  );
});

describe('integers: port, mtu, integer', () => {
  for (const [text, n] of [['1', 1], ['22', 22], ['65535', 65535]] as const) {
    test(`port ${text}`, () => assert.equal(v.port(text), n));
  }
  for (const text of ['0', '65536', '-1', '+22', ' 22', '22 ', '1e3', '0x16', '', '22.0', '99999999999', '2'.repeat(100), '٢٢']) {
    test(`port refuses ${JSON.stringify(text)}`, () => {
      refuses(() => v.port(text), text, /^invalid port .*whole number from 1 to 65535$/);
    });
  }
  for (const [text, n] of [['1280', 1280], ['1450', 1450], ['9000', 9000]] as const) {
    test(`mtu ${text}`, () => assert.equal(v.mtu(text), n));
  }
  for (const text of ['1279', '9001', '0', 'abc', '1450\n', '']) {
    test(`mtu refuses ${JSON.stringify(text)}`, () => {
      refuses(() => v.mtu(text), text, /^invalid mtu .*from 1280 to 9000$/);
    });
  }
  test('integer names its key and range', () => {
    assert.equal(v.integer('7', 'hosts', 1, 9), 7);
    refuses(() => v.integer('10', 'hosts', 1, 9), '10', /^invalid hosts "10": use a whole number from 1 to 9$/);
    assert.equal(v.port('2222', 'ssh_port'), 2222);
    refuses(() => v.port('x', 'ssh_port'), 'x', /^invalid ssh_port/);
  });
});

describe('boolFlag', () => {
  for (const t of ['1', 'yes', 'true']) test(`${t} is true`, () => assert.equal(v.boolFlag(t, 'force'), true));
  for (const f of ['0', 'no', 'false']) test(`${f} is false`, () => assert.equal(v.boolFlag(f, 'force'), false));
  for (const bad of ['2', 'on', 'TRUE', 'Yes', '', ' 1']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      refuses(() => v.boolFlag(bad, 'force'), bad, /^invalid force .*use 1 or 0$/);
    });
  }
});

describe('list', () => {
  test('splits on commas and trims each element', () => {
    assert.deepEqual(v.list('h1,h2', 'node_member', v.nodeName), ['h1', 'h2']);
    assert.deepEqual(v.list(' h1 , h2 ', 'node_member', v.nodeName), ['h1', 'h2']);
    assert.deepEqual(v.list('h1', 'node_member', v.nodeName), ['h1']);
  });

  test('elements are checked with the element validator, under the list key', () => {
    refuses(() => v.list('h1,h;2', 'node_member', v.nodeName), 'h;2', /^invalid node_member "h;2"/);
    const nets = v.list('10.0.0.0/24,2001:db8::/64', 'nets', v.network);
    assert.deepEqual(nets.map(v.cidrText), ['10.0.0.0/24', '2001:db8::/64']);
    refuses(() => v.list('10.10.11.1/24,10.0.0.1/33', 'bridge_ips', v.interfaceAddress), '10.0.0.1/33', /^invalid bridge_ips/);
  });

  test('empty lists and empty elements are refused', () => {
    refuses(() => v.list('', 'node_member', v.nodeName), '', /give at least one value/);
    refuses(() => v.list('h1,,h2', 'node_member', v.nodeName), '', /^invalid node_member ""/);
    refuses(() => v.list('h1,', 'node_member', v.nodeName), '', /^invalid node_member ""/);
  });
});
