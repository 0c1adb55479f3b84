#!/usr/bin/env python3
"""Regenerate the OSTEP reference corpus: Tests/VMExerciseTests/OSTEPCorpus/SCRIPT.jsonl.

Runs the six virtual-memory homework scripts of remzi-arpacidusseau/ostep-homework with the local
python3 (and python2, when available) for a fixed, seeded set of flag combinations, and records
what each printed. The scripts themselves are not copied into vmsim; point this at a checkout
(or a bare git directory) of the repository:

    tools/ostep-corpus/generate.py --ostep ~/src/ostep-homework [--python2 'python2.7']

Each line of SCRIPT.jsonl is one case:
    {"args": [...], "columns": null | "40", "files": {name: text},
     "py3": {"stdout": ..., "stderr": ..., "status": N},
     "py2": null (same as py3) | {...} | "missing" (python2 not available)}
"stderr" is the whole of standard error, except after a traceback, where it is only the last line
(the exception), since frames name paths and line numbers; "traceback": true marks those.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

SCRIPTS = {
    "paging-policy": "vm-beyondphys-policy/paging-policy.py",
    "paging-linear-translate": "vm-paging/paging-linear-translate.py",
    "paging-multilevel-translate": "vm-smalltables/paging-multilevel-translate.py",
    "relocation": "vm-mechanism/relocation.py",
    "segmentation": "vm-segmentation/segmentation.py",
    "malloc": "vm-freespace/malloc.py",
}

# Address files for paging-policy -f, created in the working directory of each run.
FILES = {
    "refs1.txt": "1\n2\n3\n1\n2\n4\n1\n",
    "refs2.txt": "0\n1\n2\n0\n1\n3\n0\n3\n1\n2\n1",
    "refs-crlf.txt": " 5\r\n6\r\n5\r\n7\r\n",
    "refs-bad.txt": "1\n\n2\n",
}


def read_script(ostep, path):
    if os.path.isdir(os.path.join(ostep, path.split("/")[0])):
        with open(os.path.join(ostep, path), "rb") as f:
            return f.read()
    git_dir = os.path.join(ostep, ".git") if os.path.isdir(os.path.join(ostep, ".git")) else ostep
    return subprocess.run(["git", "--git-dir", git_dir, "show", "HEAD:" + path],
                          check=True, capture_output=True).stdout


def maybe(rng, p=0.5):
    return rng.random() < p


def seeds(rng):
    return str(rng.choice([0, 1, 2, 3, 4, 5, 7, 10, 42, 99, 123, 1000, 31337, rng.randrange(0, 2**32)]))


def random_cases(name, rng, count):
    """Seeded combinations of each script's flags, values drawn from pools that include edges."""
    cases = []
    for _ in range(count):
        a = []

        def opt(flag, values, p=0.5):
            if maybe(rng, p):
                a.extend([flag, str(rng.choice(values))])

        a += ["-s", seeds(rng)]
        if name == "paging-policy":
            opt("-p", ["FIFO", "LRU", "MRU", "OPT", "UNOPT", "RAND", "CLOCK"], 0.9)
            opt("-n", [0, 1, 3, 5, 10, 20, 40])
            opt("-C", [0, 1, 2, 3, 4, 5, 8, -1], 0.6)
            opt("-m", [1, 2, 5, 10, 20, 100])
            opt("-b", [0, 1, 2, 3, 5, -1], 0.4)
            opt("-a", ["1,2,3,4,1,2,5,1,2,3,4,5", "0,1,2,0,1,3,0,3,1,2,1", "5,-1,3,-1,5,-1,2",
                       "7", "3,3,3,3", "8,7,4,2,5,4,7,3,4,5", " 1, 2,+3,1_0,2"], 0.25)
            if maybe(rng, 0.1):
                a += ["-f", rng.choice(["refs1.txt", "refs2.txt", "refs-crlf.txt"])]
            if maybe(rng, 0.2):
                a.append("-N")
        elif name == "paging-linear-translate":
            asize = rng.choice(["1k", "4k", "8k", "16k", "32k", "64", "128"])
            a += ["-a", asize] if maybe(rng, 0.8) else []
            opt("-p", ["16k", "32k", "64k", "128k", "1m", "512"], 0.8)
            opt("-P", ["1k", "2k", "4k", "8", "16", "32", "64"], 0.8)
            opt("-u", [0, 10, 25, 50, 75, 90, 100], 0.6)
            opt("-n", [0, 1, 5, 10, 20])
            if maybe(rng, 0.3):
                a.append("-v")
        elif name == "paging-multilevel-translate":
            opt("-a", [0, 1, 4, 16, 32, 64, 80, 100], 0.6)
            opt("-n", [0, 1, 5, 10, 20, 40], 0.6)
        elif name == "relocation":
            opt("-a", ["1k", "2k", "4k", "16", "100", "64k", "1m"], 0.7)
            opt("-p", ["16k", "32k", "64k", "1m", "256m", "1g"], 0.7)
            opt("-n", [0, 1, 5, 10, 20])
            opt("-b", ["0", "100", "1k", "3000", "12k"], 0.2)
            opt("-l", ["0", "100", "200", "500", "1k"], 0.2)
        elif name == "segmentation":
            opt("-a", ["128", "1k", "2k", "4k", "16k", "100", "1m"], 0.7)
            opt("-p", ["512", "16k", "32k", "64k", "1m", "256m"], 0.7)
            opt("-n", [0, 1, 5, 10, 20])
            opt("-b", ["0", "100", "1k", "4000"], 0.15)
            opt("-l", ["0", "20", "100", "300"], 0.15)
            opt("-B", ["512", "2k", "8k", "16000"], 0.15)
            opt("-L", ["0", "20", "100", "300"], 0.15)
            opt("-A", ["0,1,2,3", "100,200,300,400,500,600,700,800,900,1000,1023", "511,512,513"], 0.15)
        elif name == "malloc":
            opt("-S", [20, 50, 100, 200, 1000])
            opt("-b", [0, 1000, 4096])
            opt("-H", [0, 1, 2, 4, 8], 0.3)
            opt("-a", [-1, 1, 2, 4, 8], 0.3)
            opt("-p", ["BEST", "WORST", "FIRST"], 0.7)
            opt("-l", ["ADDRSORT", "SIZESORT+", "SIZESORT-", "INSERT-FRONT", "INSERT-BACK"], 0.6)
            opt("-n", [0, 1, 5, 10, 20, 50, 100])
            opt("-r", [1, 5, 10, 30, 100])
            opt("-P", [1, 10, 30, 50, 70, 100], 0.4)
            opt("-A", ["+10,+20,+30,-0,-2,+5,-1", "+3,-0,+5,-1,+7,-2,+1,-3", "+50,+60,-0,+10,-1,-2",
                       "+10,-0,+10,-1"], 0.2)
            if maybe(rng, 0.4):
                a.append("-C")
        if maybe(rng, 0.7):
            a.append("-c")
        rng.shuffle(a) if False else None
        cases.append(a)
    return cases


# Hand-picked edges: optparse errors and forms, help at several widths, the scripts' own errors
# and exceptions, and values at the limits of each flag.
COMMON_EDGES = [
    ["-h"], ["--help"], ["--he"], ["-c", "-h", "-x"], ["-x"], ["--bogus"], ["-s"], ["--seed"],
    ["-s", "abc"], ["-s", "0x1f", "-c"], ["-s", "017", "-c"], ["-s", "0b101", "-c"], ["-s", "08"],
    ["-s", "-7", "-c"], ["-s", "1_000", "-c"], ["-s", " 12 ", "-c"], ["-s12", "-c"], ["--seed=12", "-c"],
    ["--seed", "12", "-c"], ["--s=5", "-c"], ["-s", "123456789012345678901234567890", "-c"],
    ["-s", "-99999999999999999999", "-c"], ["-s", "4294967296", "-c"], ["-s", "4294967295", "-c"],
    ["-c", "--", "-s", "5"], ["extra", "-c", "positional"], ["-"], [""], ["-c=1"], ["--compute=1"],
    ["-s", "é"], ["-s", "it's"], ["-s", "a\"b'c"], ["-s", "tab\there"], ["-s", "٣", "-c"],
]

EDGES = {
    "paging-policy": [
        ["-c"], ["-c", "-p", "LRU"], ["-c", "-p", "OPT"], ["-c", "-p", "UNOPT"], ["-c", "-p", "RAND"],
        ["-c", "-p", "CLOCK"], ["-c", "-p", "MRU"], ["-c", "-p", "BOGUS"], ["-p", "BOGUS"],
        ["-c", "-C", "0"], ["-c", "-C", "0", "-p", "CLOCK"], ["-c", "-C", "0", "-p", "MRU"],
        ["-c", "-n", "0"], ["-n", "0"], ["-n", "x"], ["-C", "x"], ["-m", "x"], ["-s", "x"],
        ["-c", "-a", "1,,2"], ["-a", "1,x,2"], ["-c", "-a", "0x10"], ["-c", "-a", "-1"],
        ["-c", "-a", "5,-1,3,-1,5,7,-1", "-C", "2"], ["-c", "-a", "5,-1,3,-1,5,7,-1", "-C", "2", "-p", "CLOCK"],
        ["-c", "-b", "0", "-p", "CLOCK", "-n", "30"], ["-c", "-b", "-1", "-p", "CLOCK", "-n", "30"],
        ["-c", "-f", "refs1.txt"], ["-f", "refs2.txt", "-c", "-p", "OPT"], ["-f", "refs-crlf.txt", "-c"],
        ["-c", "-f", "refs-bad.txt"], ["-c", "-f", "missing.txt"], ["-c", "-N"], ["-cN", "-p", "LRU"],
        ["--addr", "1,2"], ["--addresses=1,2,3", "-c"], ["--cache", "2", "-c"], ["--pol=LRU", "-c"],
        ["-c", "-n", "100", "-m", "1000", "-C", "50", "-p", "OPT"], ["-c", "-C", "-3", "-n", "15"],
        ["-c", "-m", "-10"], ["-c", "-n", "-3"], ["-b", "x"], ["-s", "12345678901234567890123", "-c", "-p", "RAND"],
    ],
    "paging-linear-translate": [
        ["-c"], ["-c", "-v"], ["-cv"], ["-vc", "-u", "100"], ["-c", "-u", "0"], ["-c", "-u", "-10"],
        ["-c", "-u", "200"], ["-c", "-a", "17"], ["-c", "-a", "12k"], ["-c", "-P", "3k"], ["-c", "-P", "0"],
        ["-c", "-P", "-4k"], ["-c", "-P", "128k"], ["-c", "-p", "1"], ["-c", "-a", "0"], ["-c", "-a", "-4k"],
        ["-c", "-a", "64k", "-p", "64k"], ["-c", "-a", "1g", "-p", "2g"], ["-c", "-a", "16k", "-p", "1g"],
        ["-c", "-p", "65k"], ["-c", "-a", "x"], ["-c", "-a", "k"], ["-c", "-a", ""], ["-c", "-p", "16q"],
        ["-c", "-A", "0,4096,8192,16383"], ["-c", "-A", "16384"], ["-c", "-A", "-1"], ["-A", "1,x"],
        ["-c", "-A", "3,,4"], ["-c", "-A", " 12, +7"], ["-c", "-n", "0"], ["-c", "-n", "-2"],
        ["-c", "-a", "1m", "-p", "4m", "-P", "64k", "-n", "20"], ["-c", "-a", "32", "-p", "64", "-P", "1"],
        ["--used=75", "-c"], ["--page", "2k", "-c"], ["--p", "x"], ["-c", "-P", "1", "-a", "16", "-p", "32", "-v"],
    ],
    "paging-multilevel-translate": [
        ["-c"], ["-c", "-a", "0"], ["-c", "-a", "1"], ["-c", "-a", "127"], ["-c", "-a", "100"],
        ["-c", "-a", "-5"], ["-c", "-n", "0"], ["-c", "-n", "-1"], ["-c", "-n", "100"], ["-a", "x"],
        ["--solve", "-s", "3"], ["--sol", "-s", "4"], ["-cs5"], ["-c", "--allocated=10", "--addresses=20"],
        ["--a=3"], ["-c", "-a", "0x20"], ["-c", "-s", "1234567"],
    ],
    "relocation": [
        ["-c"], ["-c", "-a", "0"], ["-c", "-p", "1"], ["-c", "-p", "0"], ["-c", "-a", "16k"],
        ["-c", "-a", "32k"], ["-c", "-b", "15k", "-l", "2k"], ["-c", "-b", "-5"], ["-c", "-b", "100", "-l", "-5"],
        ["-c", "-l", "0"], ["-c", "-l", "10k", "-p", "16k", "-a", "1k"], ["-c", "-a", "-1k"],
        ["-c", "-a", "x"], ["-c", "-b", "x"], ["-c", "-l", ""], ["-c", "-n", "0"], ["-c", "-n", "-3"],
        ["-c", "-n", "x"], ["-c", "-a", "1g", "-p", "4g", "-n", "10"], ["-c", "-b", "0", "-l", "16k"],
        ["--b", "100", "--l", "200", "-c"], ["--comp", "-s", "3"], ["--ad", "10", "-c"], ["--a", "2k"],
    ],
    "segmentation": [
        ["-c"], ["-c", "-a", "0"], ["-c", "-p", "4"], ["-c", "-p", "8", "-a", "8"], ["-c", "-a", "8k"],
        ["-c", "-a", "129"], ["-c", "-a", "127", "-p", "1k", "-A", "62,63,64,65,126"],
        ["-c", "-a", "128", "-p", "512", "-b", "0", "-l", "20", "-B", "512", "-L", "20"],
        ["-c", "-b", "0", "-l", "20", "-B", "512", "-L", "20", "-a", "128", "-p", "512", "-A", "0,19,20,108,107,127"],
        ["-c", "-l", "600"], ["-c", "-L", "600"], ["-c", "-b", "16k"], ["-c", "-B", "20k"],
        ["-c", "-b", "100", "-l", "200", "-B", "200", "-L", "50"], ["-c", "-A", "1024"], ["-c", "-A", "-1"],
        ["-c", "-A", "1,x"], ["-c", "-A", "1,,2"], ["-c", "-n", "0"], ["-c", "-a", "x"], ["-c", "-b", ""],
        ["-c", "-a", "1k", "-p", "2k"], ["-c", "-a", "1k", "-p", "2049"], ["--b1=4000", "--l1=100", "-c"],
        ["--b", "1"], ["--l0", "100", "-c"], ["-c", "-a", "-2", "-p", "16"],
    ],
    "malloc": [
        ["-c"], ["-c", "-n", "0"], ["-c", "-p", "WORST"], ["-c", "-p", "FIRST"], ["-c", "-p", "bogus"],
        ["-c", "-l", "bogus"], ["-c", "-a", "0"], ["-c", "-a", "-2"], ["-c", "-P", "0"], ["-c", "-P", "-5"],
        ["-c", "-P", "100", "-n", "20"], ["-c", "-S", "10", "-r", "20", "-n", "20"], ["-c", "-S", "0"],
        ["-c", "-H", "4", "-n", "20"], ["-c", "-A", "+10,+20,-0,-1,+5"], ["-A", "+10,+20,-0,-1,+5"],
        ["-c", "-A", "+10,-5"], ["-c", "-A", "+10,-0,-0"], ["-c", "-A", "+200,-0"], ["-c", "-A", "+200,+10,-0"],
        ["-c", "-A", "+10,*3"], ["-c", "-A", "+10,,+3"], ["-c", "-A", "+"], ["-c", "-A", "-"], ["-c", "-A", "+x"],
        ["-c", "-A", "+0,+0"], ["-c", "-A", "+-5,+10"], ["-c", "-A", "+5+3,-0-1"], ["-c", "-A", "+10,-1"],
        ["-c", "-A", "+10,+20,+30,-1,-1", "-C"], ["-c", "-A", "+10,+20,+30,-0,-1,-2", "-C", "-l", "SIZESORT-"],
        ["-c", "-A", "+10,+20,+30,-2,-0,-1", "-l", "SIZESORT+"], ["-c", "-A", "+ 7,+\t3"],
        ["-c", "-A", "+3,+3,+3,-0,-2,-1", "-l", "SIZESORT-"], ["-c", "-A", "+3,+3,+3,-2,-0,-1", "-l", "INSERT-FRONT"],
        ["-c", "-A", "+3,+4,+5,-0,-1,-2", "-l", "INSERT-BACK", "-C"], ["-c", "-H", "-3", "-n", "15"],
        ["-c", "-a", "4", "-A", "+1,+5,+9,-1"], ["-c", "-n", "200", "-S", "1000", "-r", "50", "-C"],
        ["--listOrder=SIZESORT+", "-c"], ["--list", "INSERT-BACK", "-c"], ["--s", "3"], ["--numOps=5", "-c"],
        ["-cC", "-s", "9"], ["-CcP", "70"],
    ],
}

HELP_WIDTHS = ["20", "40", "60", "100", "abc", "0", " 90 "]


def all_cases(name):
    rng = random.Random(f"ostep-corpus-{name}")
    cases = [(a, None) for a in COMMON_EDGES + EDGES[name]]
    cases += [(["-h"], w) for w in HELP_WIDTHS]
    cases += [(a, None) for a in random_cases(name, rng, 420)]
    seen, unique = set(), []
    for a, w in cases:
        key = (tuple(a), w)
        if key not in seen:
            seen.add(key)
            unique.append((a, w))
    return unique


def run(python, script, args, columns, cwd):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    env["PYTHONIOENCODING"] = "utf-8"
    try:
        p = subprocess.run(python + [script] + args, cwd=cwd, env=env, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return None
    stdout = p.stdout.decode("utf-8", "surrogateescape")
    stderr = p.stderr.decode("utf-8", "surrogateescape")
    result = {"stdout": stdout, "stderr": stderr, "status": p.returncode}
    if stderr.startswith("Traceback (most recent call last):"):
        result["stderr"] = stderr.rstrip("\n").split("\n")[-1]
        result["traceback"] = True
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ostep", required=True, help="checkout or git directory of ostep-homework")
    parser.add_argument("--python3", default="python3")
    parser.add_argument("--python2", default="python2", help="'' to skip Python 2")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "Tests",
                                                      "VMExerciseTests", "OSTEPCorpus"))
    parser.add_argument("--only", help="one script")
    options = parser.parse_args()
    py3 = options.python3.split()
    py2 = options.python2.split() if options.python2 else None
    if py2 and shutil.which(py2[0]) is None:
        py2 = None
    os.makedirs(options.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ostep-corpus-")
    for name, text in FILES.items():
        with open(os.path.join(work, name), "w", newline="") as f:
            f.write(text)
    version = subprocess.run(py3 + ["-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    for name, path in SCRIPTS.items():
        if options.only and name != options.only:
            continue
        script = os.path.join(work, os.path.basename(path))
        with open(script, "wb") as f:
            f.write(read_script(options.ostep, path))
        lines, dropped, differ = [], 0, 0
        for args, columns in all_cases(name):
            r3 = run(py3, script, args, columns, work)
            if r3 is None:
                dropped += 1
                continue
            case = {"args": args, "columns": columns, "py3": r3}
            if "-f" in args:
                case["files"] = FILES
            if py2:
                r2 = run(py2, script, args, columns, work)
                if r2 is None:
                    dropped += 1
                    continue
                case["py2"] = None if r2 == r3 else r2
                differ += r2 != r3
            else:
                case["py2"] = "missing"
            lines.append(json.dumps(case, ensure_ascii=False, sort_keys=True))
        with open(os.path.join(options.out, name + ".jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {len(lines)} cases (python {version}; {differ} differ under python2; "
              f"{dropped} dropped: the script ran over 20 s)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
