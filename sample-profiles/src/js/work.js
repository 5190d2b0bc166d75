// A small JavaScript workload with a known shape, profiled by node for the Chrome samples
// (sample-profiles/record-chrome.sh).
//
// Per round: parse() (tokenize() + countWords()) about 40 % of the CPU time, fib() (recursive,
// 28 deep) and checksum() about 30 % each; the young-generation garbage of tokenize() makes
// V8 run scavenges, which a trace records as nested GC spans.
'use strict';

function tokenize(text) {
  const words = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text.charCodeAt(i) === 32) {
      if (i > start) words.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return words;
}

function countWords(words) {
  const counts = new Map();
  for (const w of words) counts.set(w, (counts.get(w) || 0) + 1);
  return counts.size;
}

function parse(text) {
  return countWords(tokenize(text));
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function checksum(text) {
  let h = 0;
  for (let r = 0; r < 6; r++) {
    for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
  }
  return h;
}

function main(rounds) {
  const parts = [];
  for (let i = 0; i < 40000; i++) parts.push(`word${i % 977}x${i % 13}`);
  const text = parts.join(' ');
  let out = 0;
  for (let r = 0; r < rounds; r++) {
    out += parse(text);
    out += fib(28);
    out += checksum(text);
  }
  console.log(out);
}

main(Number(process.argv[2] || 30));
