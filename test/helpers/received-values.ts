// Values of every JavaScript type and shape, for comparing hardsync's argument errors with
// node:fs's word for word (test/errors.test.ts). Symbols are not here: Node 20's C++ fd check
// aborts the process on one (FATAL ERROR in DetermineSpecificErrorType), so there is nothing
// to compare with; hardsync describes them as node's JavaScript validators do. Nor is a
// generator object of a named generator function: V8 names it after that function, which no
// JavaScript can reach from the object (hardsync says "an instance of Generator", as V8 does
// for an anonymous one).

class Plain {}
class Base {}
class Derived extends Base {}
class TaggedOnPrototype extends Base {}
(TaggedOnPrototype.prototype as unknown as Record<symbol, string>)[Symbol.toStringTag] = 'ProtoTag';
function OldStyle(this: unknown) {}
const anonymousClass = (() => class {})();
const anonymousFunction = (() => function () {})();

function argumentsObject(..._args: unknown[]): IArguments {
  // eslint-disable-next-line prefer-rest-params
  return arguments;
}

/** [label, value] pairs: functions, BigInts, objects of many kinds, strings at every edge. */
export function receivedValues(): [string, unknown][] {
  return [
    ['named function', function named() {}],
    ['anonymous function', anonymousFunction],
    ['arrow function', () => undefined],
    ['class', Plain],
    ['anonymous class', anonymousClass],
    ['async function', async function asyncNamed() {}],
    ['generator function', function* generatorNamed() {}],
    ['bound function', function bound() {}.bind(null)],
    ['callable Proxy', new Proxy(function proxied() {}, {})],
    ['BigInt 1n', 1n],
    ['BigInt 0n', 0n],
    ['BigInt -5n', -5n],
    ['BigInt 2^70', 2n ** 70n],
    ['null-prototype object', Object.create(null)],
    ['null-prototype object with keys', Object.assign(Object.create(null), { a: 1, b: { c: 2 } })],
    ['object whose prototype has a null prototype', Object.create(Object.create(null))],
    ['plain object', { a: 1 }],
    ['empty object', {}],
    ['object with Symbol.toStringTag', { [Symbol.toStringTag]: 'OwnTag' }],
    ['object with an own constructor property', { constructor: function Own() {} }],
    ['class instance', new Plain()],
    ['anonymous class instance', new anonymousClass()],
    ['derived class instance', new Derived()],
    ['derived instance, tag on its prototype', new TaggedOnPrototype()],
    ['Object.create(Plain.prototype)', Object.create(Plain.prototype)],
    ['old-style constructor instance', new (OldStyle as unknown as new () => object)()],
    ['array', [1, 2]],
    ['Map', new Map()],
    ['Date', new Date(0)],
    ['RegExp', /x/],
    ['Error', new Error('x')],
    ['TypeError', new TypeError('x')],
    ['Buffer', Buffer.alloc(1)],
    ['Uint8Array', new Uint8Array(2)],
    ['DataView', new DataView(new ArrayBuffer(2))],
    ['ArrayBuffer', new ArrayBuffer(2)],
    ['arguments object', argumentsObject(1, 2)],
    ['generator object of an anonymous generator', (function* () {})()],
    ['Promise', Promise.resolve()],
    ['globalThis', globalThis],
    ['boxed string', new String('s')],
    ['boxed number', new Number(1)],
    ['boxed boolean', new Boolean(false)],
    ['Proxy of an object', new Proxy({}, {})],
    ['Proxy of an array', new Proxy([], {})],
    ['URL', new URL('file:///x')],
    ['true', true],
    ['false', false],
    ['undefined', undefined],
    ['null', null],
    ['empty string', ''],
    ['26 characters', 'x'.repeat(26)],
    ['28 characters', 'x'.repeat(28)],
    ['29 characters', 'x'.repeat(29)],
    ['40 characters', 'x'.repeat(40)],
    ['15 two-byte characters', 'é'.repeat(15)],
    ['30 three-byte characters', '世'.repeat(30)],
    ['20 emoji', '😀'.repeat(20)],
    ['newline', 'a\nb'],
    ['CR LF', 'a\r\nb'],
    ['tab', 'a\tb'],
    ['control character', 'a\u0001b'],
    ['lone surrogate', 'a\ud800b'],
    ['backslash', 'a\\b'],
    ["single quote", "it's"],
    ['single and double quotes', `it's "x"`],
    ['double quote only', 'a"b'],
    ['backtick', 'a`b'],
    ["long, ' in the first 25", `it's${'x'.repeat(30)}`],
    ["long, ' after 25", `${'x'.repeat(30)}'`],
    ["' and newline", "it's\nx"],
    ['number string', '1'],
  ];
}

/** Numbers an fd check refuses as out of range (or not an integer). */
export const badFdNumbers: number[] = [1.5, -1.5, NaN, -1, -1e-7, 5e-324, 0.1 + 0.2, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e21, -1e21];
