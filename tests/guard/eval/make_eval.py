#!/usr/bin/env python3
"""Validate the guard evaluation set and refresh the counts in README.md.

    python3 tests/guard/eval/make_eval.py            # validate, print counts
    python3 tests/guard/eval/make_eval.py --readme   # also rewrite the counts block in README.md

dev.jsonl, dev2.jsonl and holdout.jsonl are the source of truth; edit them directly (one JSON
object per line, keys in the order id, label, category, lang, text) and run this script afterwards.
Exit status 1 if any check fails. Standard library only.

dev2.jsonl is a second tuning set, written after the rules were first tuned on dev.jsonl, to widen
phrasing coverage. It has its own thresholds (see DEV2_* below). Holdout is read only for the
checks this script always made (schema, counts, duplicate and near-duplicate texts against the
other splits); messages about holdout name ids, never its texts.
"""
import argparse
import collections
import itertools
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = {"dev": "dev.jsonl", "dev2": "dev2.jsonl", "holdout": "holdout.jsonl"}
ID_PREFIX = {"dev": "dev-", "dev2": "dv2-", "holdout": "ho-"}
KEYS = ["id", "label", "category", "lang", "text"]
ATTACK = ["override", "persona", "exfiltration", "delimiter", "encoded", "multilingual",
          "obfuscated", "indirect"]
BENIGN = ["benign_security", "benign_quoted", "benign_ignore", "benign_roleplay",
          "benign_encoded", "benign_delimiter", "benign_general", "benign_multilingual"]
OTHER_LANGS = ["es", "fr", "de", "pt", "it", "zh", "ja", "ru"]
LANGS = ["en"] + OTHER_LANGS
EXTRA_LANGS = ["ko", "ar", "hi", "nl", "pl", "tr"]   # allowed in dev2 only, a few texts each
MIN_BENIGN_FRACTION = 0.55
MIN_ATTACKS_PER_LANG = 8      # multilingual attacks per language, dev and holdout together
DEV2_MIN_BENIGN_FRACTION = 0.40   # dev2 is attack-heavy on purpose (phrasing coverage)
DEV2_MIN_ATTACKS_PER_LANG = 6     # multilingual attacks per language in dev2 alone
NEAR_DUP_JACCARD = 0.5        # character 5-gram Jaccard above which two texts count as near duplicates
LONG_CHARS = 1000


def load(split, errors):
    path = os.path.join(HERE, SPLITS[split])
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        errors.append(f"{path}: starts with a BOM")
    if b"\r" in raw:
        errors.append(f"{path}: contains CR characters (use LF line endings)")
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8 ({e})")
        return []
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for n, line in enumerate(lines, 1):
        where = f"{SPLITS[split]}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: invalid JSON ({e})")
            continue
        if not isinstance(obj, dict) or list(obj.keys()) != KEYS:
            errors.append(f"{where}: keys must be exactly {KEYS} in that order")
            continue
        if not re.fullmatch(re.escape(ID_PREFIX[split]) + r"\d{4}", str(obj["id"])):
            errors.append(f"{where}: bad id {obj['id']!r}")
        if obj["label"] not in (0, 1) or isinstance(obj["label"], bool):
            errors.append(f"{where}: label must be 0 or 1")
        cat = obj["category"]
        if cat not in ATTACK + BENIGN:
            errors.append(f"{where}: unknown category {cat!r}")
        elif (cat in ATTACK) != (obj["label"] == 1):
            errors.append(f"{where}: category {cat} does not match label {obj['label']}")
        if obj["lang"] not in LANGS + (EXTRA_LANGS if split == "dev2" else []):
            errors.append(f"{where}: unknown lang {obj['lang']!r}")
        if cat in ("multilingual", "benign_multilingual") and obj["lang"] == "en":
            errors.append(f"{where}: {cat} text must not be lang=en")
        if not isinstance(obj["text"], str) or not obj["text"].strip():
            errors.append(f"{where}: empty text")
        rows.append(obj)
    return rows


def shingles(text, k=5):
    t = re.sub(r"\s+", " ", text.lower())
    return {t[i:i + k] for i in range(max(1, len(t) - k + 1))}


def counts_markdown(data):
    splits = list(data)
    out = []
    out.append("| split | label 1 (attack) | label 0 (benign) | total | benign % | texts > 1,000 chars |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for split, rows in data.items():
        a = sum(r["label"] == 1 for r in rows)
        b = len(rows) - a
        lg = sum(len(r["text"]) > LONG_CHARS for r in rows)
        out.append(f"| {split} | {a} | {b} | {len(rows)} | {100 * b / max(1, len(rows)):.1f} | {lg} |")
    out.append("")
    out.append("| label | category | " + " | ".join(splits) + " | total |")
    out.append("|---:|---|" + "---:|" * (len(splits) + 1))
    for label, cats in ((1, ATTACK), (0, BENIGN)):
        for c in cats:
            n = [sum(r["category"] == c for r in data[s]) for s in splits]
            out.append(f"| {label} | {c} | " + " | ".join(map(str, n)) + f" | {sum(n)} |")
    out.append("")
    out.append("| lang | " + " | ".join(f"attacks {s}" for s in splits) + " | "
               + " | ".join(f"benign {s}" for s in splits) + " |")
    out.append("|---|" + "---:|" * (2 * len(splits)))
    for lang in LANGS + EXTRA_LANGS:
        cells = [sum(r["lang"] == lang and r["label"] == lab for r in data[s])
                 for lab in (1, 0) for s in splits]
        out.append(f"| {lang} | " + " | ".join(map(str, cells)) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", action="store_true", help="rewrite the counts block in README.md")
    args = ap.parse_args()

    errors, warnings = [], []
    data = {s: load(s, errors) for s in SPLITS}

    ids = collections.Counter(r["id"] for rows in data.values() for r in rows)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    by_text = collections.defaultdict(list)
    for rows in data.values():
        for r in rows:
            by_text[r["text"]].append(r["id"])
    for t, where in by_text.items():
        if len(where) > 1:
            # Never print a holdout text: name the ids instead.
            shown = "" if any(i.startswith(ID_PREFIX["holdout"]) for i in where) else f": {t[:60]!r}"
            errors.append(f"duplicate text in {', '.join(where)}{shown}")

    for split, rows in data.items():
        if rows:
            want = DEV2_MIN_BENIGN_FRACTION if split == "dev2" else MIN_BENIGN_FRACTION
            frac = sum(r["label"] == 0 for r in rows) / len(rows)
            if frac < want:
                errors.append(f"{split}: benign fraction {frac:.3f} < {want}")
    for lang in OTHER_LANGS:
        n = sum(r["category"] == "multilingual" and r["lang"] == lang
                for s in ("dev", "holdout") for r in data[s])
        if n < MIN_ATTACKS_PER_LANG:
            errors.append(f"lang {lang}: only {n} multilingual attacks (want >= {MIN_ATTACKS_PER_LANG})")
        n2 = sum(r["category"] == "multilingual" and r["lang"] == lang for r in data["dev2"])
        if n2 < DEV2_MIN_ATTACKS_PER_LANG:
            errors.append(f"dev2 lang {lang}: only {n2} multilingual attacks "
                          f"(want >= {DEV2_MIN_ATTACKS_PER_LANG})")

    everything = [(r["id"], shingles(r["text"])) for rows in data.values() for r in rows]
    for (a, sa), (b, sb) in itertools.combinations(everything, 2):
        j = len(sa & sb) / len(sa | sb)
        if j > NEAR_DUP_JACCARD:
            (errors if a.split("-")[0] != b.split("-")[0] else warnings).append(
                f"near duplicate ({j:.2f}): {a} / {b}")

    table = counts_markdown(data)
    print(table)
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    for e in errors:
        print("error:", e, file=sys.stderr)

    if args.readme and not errors:
        path = os.path.join(HERE, "README.md")
        readme = open(path, encoding="utf-8").read()
        begin, end = "<!-- counts:begin -->", "<!-- counts:end -->"
        if begin not in readme or end not in readme:
            print(f"error: {path} has no {begin} ... {end} block", file=sys.stderr)
            return 1
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(head + begin + "\n" + table + "\n" + end + tail)
        print(f"updated {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
