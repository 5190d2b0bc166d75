"""A small Python workload with a known shape, profiled by py-spy for the folded-stacks sample.

parse() is about half the work, checksum() a quarter, sort_words() a quarter.
"""
import sys


def tokenize(text):
    return text.split()


def parse(text):
    total = 0
    for _ in range(2):
        for word in tokenize(text):
            total += len(word)
    return total


def checksum(text):
    h = 0
    for ch in text:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return h


def sort_words(text):
    return sorted(tokenize(text), key=lambda w: (len(w), w))


def main(rounds):
    text = " ".join(f"word{i % 977}x{i % 13}" for i in range(20000))
    out = 0
    for _ in range(rounds):
        out += parse(text)
        out += checksum(text[: len(text) // 3])
        out += len(sort_words(text))
    print(out)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
