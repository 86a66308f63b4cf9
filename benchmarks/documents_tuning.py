"""A second question set for document search, for TUNING only (benchmarks/documents.py
``--set tuning``): constants of the search (the fusion's weight, the relevance threshold) are
chosen on this set, and the benchmark's own set (documents_questions.py) is run once afterwards
to report them, so that they are not fitted to its 25 questions of each kind.

Other subjects than the benchmark's, written for this set: a harbour town's boat register,
its lending library's catalogue, a water laboratory's instrument faults, the harbour office's
receipts, the volunteers' roster, and five handbooks (bees, bicycles, boats, gardens, the
library) whose paragraphs are asked about in other words. The same five kinds, 25 questions
each: hyphenated / dotted / slashed / underscored codes, numbers inside questions (with and
without thousands separators), names, paraphrases, and questions the documents cannot answer.
Generated from a fixed seed: the same corpus every run.
"""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.documents_questions import Question
from benchmarks.documents_tuning_text import HANDBOOKS, NOTICES, UNANSWERABLE

FIRST = """Ingrid Tormod Sigrun Halvard Maren Eilif Brynja Oddvar Solveig Gunnar Ragna Leif
Torunn Arnfinn Hedda Sverre Liv Kjetil Astrid Bjarne Ylva Dagfinn Runa Ivar Sunniva Ottar
Gudrun Erlend Tove Steinar""".split()
LAST = """Solberg Hovland Strand Nygaard Berge Lunde Vik Haugen Dahl Fjeld Moen Aas Brekke
Sande Holm Rustad Myklebust Tangen Eide Lie Bakke Kvist Ramberg Skog Nes""".split()
COLOURS = "Grey Silver Red Black Blue Green Golden White Swift Brave Quiet Northern".split()
BIRDS = """Tern Kittiwake Gannet Puffin Fulmar Shag Eider Curlew Plover Skua Petrel Guillemot
Oystercatcher Razorbill""".split()
CARGO = """herring|crab pots|salt cod|timber|tourists on day trips|mussel ropes|mail and
groceries|seaweed|lobster creels|ice""".replace("\n", " ").split("|")
LIBRARY_TOPICS = """knot tying|tide tables of the fjord|seabird identification|a history of the
herring trade|net mending|lighthouse keeping|boat engines for beginners|coastal weather
lore|cod liver oil and health|sail making|rowing technique|the old fishing villages|winter
stars at sea|smoked fish recipes|island folk songs""".replace("\n", " ").split("|")
INSTRUMENTS = [
    ("spectrometer-faults.txt", "SP-2 spectrometer", "SP-{n}"),
    ("centrifuge-faults.txt", "CF bench centrifuge", "CF.{n}.{m}"),
    ("incubator-faults.txt", "INC-8 incubator", "T{n}/{L}"),
]
FAULTS = [
    ("lamp hours exceeded", "fit a new deuterium lamp"),
    ("cuvette holder open", "close the cuvette lid firmly"),
    ("baseline drift", "let the lamp warm up for half an hour"),
    ("wavelength check failed", "run the holmium filter check"),
    ("detector saturated", "dilute the sample tenfold"),
    ("rotor imbalance", "load opposite tubes with equal volumes"),
    ("lid lock fault", "clean the lid catch with alcohol"),
    ("speed sensor error", "switch off and wait one minute"),
    ("rotor not recognised", "seat the rotor fully on the shaft"),
    ("brake resistor hot", "allow ten minutes between runs"),
    ("chamber too cold", "check that the door seal is intact"),
    ("carbon dioxide supply empty", "change the gas cylinder"),
    ("humidity pan dry", "refill the pan with sterile water"),
    ("door alarm", "push the inner glass door shut"),
    ("sensor calibration due", "send the probe to the service lab"),
]
ROLES = """harbour master|lifeboat coxswain|net mender|ice house keeper|librarian|archivist|
bookbinder|water sampler|laboratory technician|ferry ticket seller|beekeeper of the town
apiary|bicycle mechanic|gardener of the churchyard|weather observer""".replace("\n", " ").split("|")


def _person(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def _boat(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(COLOURS)} {rng.choice(BIRDS)}"
        if name not in used:
            used.add(name)
            return name


def build(seed: int = 77) -> tuple[dict[str, str], list[Question]]:
    """(file name → text, questions)."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {}
    people: set[str] = set()
    boats: set[str] = set()
    codes: list[Question] = []
    numbers: list[Question] = []
    names: list[Question] = []

    # -- the boat register: built year, owner, hull code, tonnage, berth
    years = rng.sample(range(1860, 1995), 90)
    register = []
    for basin in ("inner", "outer", "north"):
        file = f"boat-register-{basin}.txt"
        lines = [f"Harbour register, {basin} basin: boats and owners.\n"]
        for _ in range(30):
            boat, owner = _boat(rng, boats), _person(rng, people)
            year, tonnage = years.pop(), rng.randint(1050, 39000)
            hull = f"HB-{rng.randint(1000, 9999)}-{rng.choice('KLMNPR')}"
            lines.append(
                f"{boat}. The boat {boat} was built in {year} and belongs to {owner}. It is "
                f"registered under hull number {hull} and displaces {tonnage:,} kg. It mostly "
                f"carries {rng.choice(CARGO)} and is moored at berth {rng.randint(1, 60)}. "
                f"The harbour fee is paid each spring, and the boat is inspected every second "
                f"year by the coastal authority.\n"
            )
            register.append((file, boat, owner, year, tonnage, hull))
        files[file] = lines
    for i, (file, boat, *_, hull) in enumerate(register[:7]):
        codes.append(Question("code", hull if i % 2 else f"Which boat has hull number {hull}?",
                              file, boat))  # fmt: skip
    for file, boat, _owner, year, *_ in register[7:19]:
        numbers.append(Question("number", f"Which boat was built in {year}?", file, boat))
    for i, (file, boat, _owner, _year, tonnage, _hull) in enumerate(register[19:26]):
        written = f"{tonnage:,}" if i % 2 else str(tonnage)
        numbers.append(Question("number", f"Which boat displaces {written} kg?", file, boat))
    for file, boat, owner, *_ in register[26:34]:
        names.append(Question("name", f"Which boat does {owner} own?", file, boat))
    for file, boat, _owner, year, *_ in register[34:40]:
        names.append(Question("name", f"When was the {boat} built?", file, str(year)))

    # -- the lending library's catalogue: shelf marks with dots and slashes, authors
    file = "library-catalogue.txt"
    lines = ["Catalogue of the harbour lending library.\n"]
    for topic in LIBRARY_TOPICS:
        author = _person(rng, people)
        shelf, number = rng.choice("ABCDGHK"), rng.randint(10, 99)
        mark = f"{shelf}{number}.{rng.randint(1, 9)}/{rng.choice('XYZ')}"
        lines.append(
            f"Shelf mark {mark}: a book on {topic} by {author}, published in "
            f"{rng.randint(1930, 2020)}, {rng.randint(80, 420)} pages. Loan period three weeks.\n"
        )
        if len(codes) < 11:
            asked = mark if len(codes) % 2 else f"Which book is under shelf mark {mark}?"
            codes.append(Question("code", asked, file, topic.split()[0]))
        elif len(names) < 18:
            names.append(Question("name", f"What did {author} write about?", file,
                                  topic.split()[-1]))  # fmt: skip
    files[file] = lines

    # -- the water laboratory's instrument faults
    for number, (file, device, pattern) in enumerate(INSTRUMENTS):
        lines = [f"{device}: error codes and remedies.\n"]
        faults = FAULTS[number * 5 : number * 5 + 5]  # five of each instrument's own
        rng.shuffle(faults)
        for fault, action in faults:
            code = pattern.format(n=rng.randint(100, 999), m=rng.randint(1, 9),
                                  L=rng.choice("ABCDE"))  # fmt: skip
            lines.append(
                f"Error {code} means {fault}. Remedy: {action}. Should {code} appear again "
                f"the same week, write it in the logbook and tell the laboratory manager.\n"
            )
            if len([q for q in codes if q.file == file]) < 3:
                asked = code if len(codes) % 2 else f"What does the {device} mean by {code}?"
                codes.append(Question("code", asked, file, fault.split()[0]))
        files[file] = lines

    # -- the harbour office's receipts: underscored and hyphenated ids, amounts
    file = "harbour-receipts-2023.txt"
    lines = ["Receipts issued by the harbour office in 2023.\n"]
    for number in rng.sample(range(100, 999), 14):
        receipt = rng.choice([f"RCPT-2023-{number:04d}", f"HO_{number}_23"])
        payer, amount = _person(rng, people), rng.randint(1100, 87000)
        lines.append(
            f"Receipt {receipt}: {payer} paid {amount:,} kroner for "
            f"{rng.choice(('a winter berth', 'crane hire', 'the slipway', 'fuel', 'ice'))}.\n"
        )
        if len(codes) < 25:
            asked = receipt if len(codes) % 2 else f"Who paid on receipt {receipt}?"
            codes.append(Question("code", asked, file, payer.split()[-1]))
        elif len(numbers) < 25:
            written = f"{amount:,}" if len(numbers) % 2 else str(amount)
            numbers.append(Question("number", f"Who paid {written} kroner?", file, payer))
    files[file] = lines

    # -- the volunteers' roster
    for part, file in enumerate(("volunteers-a.txt", "volunteers-b.txt")):
        lines = ["Volunteers of the harbour town and their duties.\n"]
        for role in ROLES[part * 7 : part * 7 + 7]:
            person = _person(rng, people)
            role = " ".join(role.split())
            lines.append(
                f"{person} volunteers as the town's {role} and has done so since "
                f"{rng.randint(1995, 2023)}. Reachable through the harbour office.\n"
            )
            if len(names) < 25:
                names.append(Question("name", f"What does {person} do?", file, role.split()[-1]))
        files[file] = lines

    # -- handbooks: the paraphrase questions; notices: more ordinary words to confuse them
    paraphrases = []
    for file, paragraphs in HANDBOOKS.items():
        files[file] = [text + "\n" for text, _question, _fact in paragraphs]
        paraphrases += [Question("paraphrase", q, file, fact) for _t, q, fact in paragraphs]
    files["town-notices.txt"] = [text + "\n" for text in NOTICES]

    questions = codes[:25] + numbers[:25] + names[:25] + paraphrases[:25]
    questions += [Question("unanswerable", q, "", "") for q in UNANSWERABLE]
    return {name: "\n".join(lines) for name, lines in files.items()}, questions


def write(folder: Path, seed: int = 77) -> list[Question]:
    """Write the corpus into ``folder``; returns the questions."""
    texts, questions = build(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return questions
