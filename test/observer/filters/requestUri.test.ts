// The path http_path matches is the one Go's url.ParseRequestURI gives.
import { describe, expect, it } from 'vitest';
import { requestUriPath } from '../../../src/observer/filters/requestUri.js';

describe('requestUriPath', () => {
  it.each([
    ['http://example.com/a/b?c=d', '/a/b'],
    ['https://user:pw@example.com:8443/x', '/x'],
    ['http://[fd00::1]:8080/v1', '/v1'],
    ['/relative/path?x', '/relative/path'],
    ['//double/slash', '//double/slash'],
    ['http://example.com', ''],
    ['http://example.com?q=1', ''],
    ['mailto:someone@example.com', ''],
    ['*', '*'],
    ['/a%20b%2Fc', '/a b/c'],
    ['/caf%C3%A9', '/café'],
    ['/page#frag', '/page#frag'],
    ['HTTP://Example.com/UP', '/UP'],
  ])('%j has path %j', (url, path) => {
    expect(requestUriPath(url)).toBe(path);
  });

  it.each([
    '',
    'relative/path',
    ':no-scheme',
    '/bad%zz',
    '/bad%4',
    'http://exa mple.com/',
    'http://example.com:80a/',
    'http://[fd00::1/',
    'http://ex%41mple.com/',
    'http://us er@example.com/',
    '/ctl\u0001char',
  ])('has no path for %j (Go reports an error)', (url) => {
    expect(requestUriPath(url)).toBeUndefined();
  });
});
