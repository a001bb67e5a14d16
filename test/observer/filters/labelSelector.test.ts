// Label selectors: Cilium's source-prefix rewrite, the Kubernetes grammar, and matching Cilium labels.
import { describe, expect, it } from 'vitest';
import { LabelSelector, translateSelector } from '../../../src/observer/filters/labelSelector.js';

describe('translateSelector rewrites Cilium source prefixes as upstream', () => {
  it.each([
    ['foo', 'any.foo'],
    ['foo, bar', 'any.foo, any.bar'],
    ['k8s:foo, bar', 'k8s.foo, any.bar'],
    ['k8s:foo, !bar', 'k8s.foo, !any.bar'],
    ['foo, bar=buzz', 'any.foo, any.bar=buzz'],
    ['foo, bar!= buzz', 'any.foo, any.bar!= buzz'],
    ['foo in (a,b,c)', 'any.foo in (a,b,c)'],
    ['foo notin   (a,b,c)', 'any.foo notin   (a,b,c)'],
    ['foo.example.com, bar.example.com=buzz', 'any.foo.example.com, any.bar.example.com=buzz'],
    [
      'foo.example.com=some:other.thing, bar.example.com=buzz:any:thing.example.org',
      'any.foo.example.com=some:other.thing, any.bar.example.com=buzz:any:thing.example.org',
    ],
    ['x in (foo,,baz),y,z notin ()', 'any.x in (foo,,baz),any.y,any.z notin ()'],
    [
      'foo.example.com in (foo, any.bar, k8s:buzz, some.other,, end), k8s:bar in (a,b,c,  ,d,  e,),!any:test',
      'any.foo.example.com in (foo, any.bar, k8s:buzz, some.other,, end), k8s.bar in (a,b,c,  ,d,  e,),!any.test',
    ],
    [
      'a=b, foo:bar, !k8s:b, foo in  (a, ,   c, d), !any:buzz, c!= d.e, foo:bar.example.com=any.value, !any.other, k8s.example.com in (foo.bar, bar.buzz,  a)',
      'any.a=b, foo.bar, !k8s.b, any.foo in  (a, ,   c, d), !any.buzz, any.c!= d.e, foo.bar.example.com=any.value, !any.any.other, any.k8s.example.com in (foo.bar, bar.buzz,  a)',
    ],
  ])('%j', (input, expected) => {
    expect(translateSelector(input)).toBe(expected);
  });
});

describe('LabelSelector', () => {
  const labels = [
    'k8s:app=web',
    'k8s:io.kubernetes.pod.namespace=shop',
    'k8s:replicas=3',
    'container:app=sidecar',
    'reserved:host',
    'cidr:10.1.0.0/16',
    'cidr:2001-db8-1--/48',
    '$kube-apiserver',
  ];
  it.each([
    ['', true],
    ['app', true],
    ['k8s:app=web', true],
    ['container:app=sidecar', true],
    ['container:app=web', false],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (web, db)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['!missing', true],
    ['!app', false],
    ['k8s:io.kubernetes.pod.namespace=shop,app', true],
    ['k8s:io.kubernetes.pod.namespace=shop,!reserved:host', false],
    ['reserved:host', true],
    ['reserved:kube-apiserver', true],
    ['replicas>2', true],
    ['replicas<3', false],
    ['app>1', false],
    ['cidr:10.0.0.0/8', true],
    ['cidr:10.1.2.0/24', false],
    ['app in (,web)', true],
    ['app in ()', false],
    ['app=', false],
  ])('%j on the labels: %s', (selector, expected) => {
    expect(LabelSelector.parse(selector).matches(labels)).toBe(expected);
  });

  it('selects on labels without a source (node labels)', () => {
    expect(LabelSelector.parse('kubernetes.io/hostname=node-1').matches(['kubernetes.io/hostname=node-1'])).toBe(true);
  });

  it.each([
    ['app in x', /found 'x' expected: '\('/],
    ['app in (a', /expected: ',' or '\)'/],
    ['a=b,', /found '', expected: identifier after ','/],
    ['a b', /found 'b', expected: in, notin, =, ==, !=, gt, lt/],
    ['=x', /name part must be non-empty|name part must consist/],
    ['a=b=c', /found '=', expected: ',' or 'end of string'/],
    ['a>x', /for 'gt', 'lt' operators, the value must be an integer/],
    ['a=' + 'v'.repeat(64), /must be no more than 63 characters/],
    ['Ab/c=d', /prefix part must be a lowercase RFC 1123 subdomain/],
    ['a=b#', /must consist of alphanumeric characters/],
    ['!a=b', /found '=', expected: ',' or 'end of string'/],
  ])('refuses %j', (selector, message) => {
    expect(() => LabelSelector.parse(selector)).toThrow(message);
  });
});
