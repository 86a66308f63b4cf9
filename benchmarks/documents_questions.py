"""A question set of our own for document search (benchmarks/documents.py): a corpus of about
25 files written for it, and 125 questions of five kinds, 25 each:

- ``code``: hyphenated, dotted, slashed and underscored codes (error codes, part numbers,
  invoice and registry ids), alone or inside a question;
- ``number``: a number inside a natural question, written with or without thousands separators
  (the other way round from the document half of the time), among many look-alike facts;
- ``name``: people and places;
- ``paraphrase``: the question shares (almost) no word with the passage that answers it;
- ``unanswerable``: nothing in the documents answers it (off-topic, or a code, year or name the
  documents do not hold).

Every answerable question names the file that answers it and a fact the right answer contains
(for scoring a model's answers: does the fact appear?). Generated from fixed seeds: the same
corpus every run. Nothing here comes from a held-back set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Question:
    kind: str  # code, number, name, paraphrase, unanswerable
    text: str
    file: str  # the file that answers it ("" when none does)
    fact: str  # what a right answer contains ("" for unanswerable)


KINDS = ("code", "number", "name", "paraphrase", "unanswerable")

FIRST = """Ximena Teodoro Wilber Rosa Efrain Yolanda Marisol Hilario Nestor Felipa Gregorio Juana
Casimiro Anselma Porfirio Delia Alcides Eusebia Florentino Agustina Benigno Clotilde Demetrio
Eulalia Fortunato Genoveva Heriberto Ignacia Leoncio Modesta Nicanor Olimpia Primitivo Rufina
Saturnino Teofila Valentin Zenobia Abdon Brigida""".split()
LAST = """Quispe Mamani Condori Huaman Ccama Apaza Choque Layme Turpo Chambi Yupanqui Ticona
Ramos Coaquira Pari Suaña Larico Machaca Cutipa Arocutipa Flores Cahuana Mayta Hancco Sucso
Anccasi Pacompia Quea Ninaja Calla""".split()
SYLLABLES = "pa ca lla hua qui ma chi ta yu ra pu co ri na sa to ju ha pi lo".split()
PRODUCTS = """alpaca fibre|potatoes|quinoa|broad beans|trout|cheese|woven belts|barley|
maca root|dried llama meat|pottery|reed boats|oca tubers|honey|felt hats""".replace("\n", "").split(
    "|"
)
MONTHS = """January February March April May June July August September October November
December""".split()
FILLER = [
    "The road to the district capital is paved as far as the bridge.",
    "A health post opened there in the last decade.",
    "Most families keep a few animals behind their houses.",
    "The school teaches in Spanish and Quechua.",
    "Water comes from a spring above the houses.",
    "A weekly market is held on the square.",
    "Many young people work in the city during the dry season.",
    "Electricity arrived with the regional grid.",
    "Its church was rebuilt after an earthquake.",
    "The community assembly meets on the first Sunday of each month.",
]
FAULTS = [
    ("pressure sensor reads below the safe limit", "check the intake hose for leaks"),
    ("motor temperature above 90 degrees", "let the motor cool for twenty minutes"),
    ("flow meter disconnected", "reseat the flow meter cable"),
    ("supply voltage too low", "measure the mains voltage at the socket"),
    ("impeller blocked", "clear debris from the impeller housing"),
    ("firmware checksum mismatch", "reinstall the firmware from the service card"),
    ("door interlock open", "close the service door until it clicks"),
    ("dry-run protection tripped", "prime the pump with water before restarting"),
    ("clock battery empty", "replace the CR2032 cell behind the display"),
    ("valve stuck half open", "exercise the valve by hand three times"),
    ("radio link lost", "move the antenna clear of metal roofing"),
    ("tank overflow detected", "lower the float switch by two centimetres"),
    ("bearing vibration too high", "replace the front bearing"),
    ("memory card full", "export the logs and clear the card"),
    ("display not responding", "hold the reset button for ten seconds"),
    ("earth fault on the output", "have an electrician test the wiring"),
    ("thread tension too high", "loosen the tension wheel by a quarter turn"),
    ("shuttle jammed", "remove the shuttle and clean the race"),
    ("warp beam sensor misaligned", "align the sensor with the beam mark"),
    ("heater element open circuit", "replace the heater element"),
    ("humidity sensor out of range", "dry the sensor with a soft cloth"),
    ("fan stalled", "remove lint from the fan guard"),
    ("password attempts exceeded", "wait fifteen minutes before trying again"),
    ("uplink cable unplugged", "plug the uplink cable into port one"),
    ("configuration file damaged", "restore the configuration from the backup key"),
    ("SIM card not detected", "reinsert the SIM card with the notch facing in"),
    ("signal strength below threshold", "point the antenna towards the valley"),
    ("overcurrent on channel two", "disconnect the load on channel two"),
    ("calibration expired", "book a calibration visit with the supplier"),
    ("coolant level low", "top up the coolant to the line"),
    ("filter clogged", "wash the filter cartridge in clean water"),
    ("belt slipping", "tighten the drive belt"),
    ("gearbox oil too hot", "check the gearbox oil level"),
    ("emergency stop pressed", "release the emergency stop by turning it"),
    ("limit switch stuck", "free the limit switch lever"),
    ("battery disconnected", "reconnect the red battery lead"),
    ("spindle speed unstable", "clean the spindle speed sensor"),
    ("lid not latched", "press the lid down at both corners"),
    ("scale not zeroed", "empty the scale and press tare"),
    ("printer out of paper", "load a new paper roll"),
    ("update server unreachable", "retry the update later"),
    ("clock not set", "set the date and time in the menu"),
]
DEVICES = [
    ("pump-k9-manual.txt", "K9 irrigation pump controller", "ERR-{n}", 1000),
    ("weather-station-faults.txt", "WX-5 weather station", "E.{n}.{m}", 100),
    ("loom-controller-faults.txt", "TX loom controller", "F{n}/{L}", 10),
    ("router-rx-codes.txt", "RX-40 village radio router", "RX_{W}_{n}", 1),
]
WORDS = "LINK AUTH DHCP TEMP PWR SYNC ROUTE DNS".split()
PARTS = [
    "shearing comb",
    "cutter blade",
    "handpiece gear",
    "drive shaft",
    "water pump seal",
    "float valve",
    "solar charge controller",
    "fence energiser",
    "feeder hinge",
    "spinning wheel bobbin",
    "loom heddle",
    "weighing scale hook",
    "dye pot lid",
    "carding drum",
    "trough heater",
    "gate latch",
    "halter buckle",
    "ear tag applicator",
    "hoof trimmer blade",
    "tank tap",
    "ball bearing",
    "pressure gauge",
    "fuse holder",
    "battery clamp",
]


@dataclass
class _Entry:
    file: str
    text: str


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def _place(rng: random.Random, used: set[str]) -> str:
    while True:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        if name not in used and len(name) > 4:
            used.add(name)
            return name


def _thousands(value: int) -> str:
    return f"{value:,}"


def build(seed: int = 25) -> tuple[dict[str, str], list[Question]]:
    """(file name → text, questions)."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {}
    people: set[str] = set()
    places: set[str] = set()
    questions: list[Question] = []
    codes: list[Question] = []
    numbers: list[Question] = []
    names: list[Question] = []

    # -- gazetteers: villages with a founding year, a founder, a census figure, a registry code
    years = rng.sample(range(1320, 1890), 100)
    villages = []
    for region in ("north", "south", "east", "west"):
        file = f"gazetteer-{region}.txt"
        lines = [f"Gazetteer of the {region}ern district: villages and their history.\n"]
        for _ in range(20):
            village, founder = _place(rng, places), _name(rng, people)
            year = years.pop()
            population = rng.randint(1100, 48000)
            code = f"{rng.choice('QRSTVWXZ')}{rng.randint(100, 999)}-{rng.choice('ABCDEFGH')}"
            product = rng.choice(PRODUCTS)
            month = rng.choice(MONTHS)
            extra = " ".join(rng.sample(FILLER, 3))
            lines.append(
                f"{village}. The village of {village} was founded in {year} by {founder}. "
                f"At the 2011 census it had {_thousands(population)} inhabitants. It is known "
                f"for its {product}, and its festival falls in {month}. The registry code of "
                f"{village} is {code}. {extra}\n"
            )
            villages.append((file, village, founder, year, population, code))
        files[file] = lines
    for i, (file, village, *_, code) in enumerate(villages[:6]):
        asked = code if i % 2 else f"Which village has the registry code {code}?"
        codes.append(Question("code", asked, file, village))
    for file, village, _founder, year, *_ in villages[8:20]:
        numbers.append(Question("number", f"Which village was founded in {year}?", file, village))
    for i, (file, village, _founder, _year, population, _code) in enumerate(villages[20:28]):
        written = str(population) if i % 2 == 0 else _thousands(population)
        numbers.append(
            Question("number", f"Which village had {written} inhabitants in 2011?", file, village)
        )
    for file, village, founder, *_ in villages[28:36]:
        names.append(Question("name", f"Which village did {founder} found?", file, village))
    for file, village, _founder, year, *_ in villages[36:42]:
        names.append(Question("name", f"When was {village} founded?", file, str(year)))

    # -- fault code manuals
    faults = list(FAULTS)
    rng.shuffle(faults)
    for file, device, pattern, scale in DEVICES:
        lines = [f"{device}: fault codes and what to do.\n"]
        for _ in range(10):
            fault, action = faults.pop()
            code = pattern.format(
                n=rng.randint(10, 99) * scale // 10 + rng.randint(1, 9),
                m=rng.randint(1, 9),
                L=rng.choice("ABCDE"),
                W=rng.choice(WORDS),
            )
            lines.append(
                f"Code {code} means {fault}. To clear it, {action}. If {code} comes back "
                f"within a day, note the time and call the service line of the {device}.\n"
            )
            if len([q for q in codes if q.file == file]) < 3:
                asked = (
                    code if len(codes) % 2 else f"What should I do when the display shows {code}?"
                )
                codes.append(Question("code", asked, file, fault.split()[0]))
        files[file] = lines

    # -- parts catalogues: SKUs with prices (thousands separators) and weights
    for year in (2024, 2025):
        file = f"parts-catalogue-{year}.txt"
        lines = [f"Cooperative workshop parts catalogue {year}. Prices in soles.\n"]
        for part in rng.sample(PARTS, 12):
            sku = rng.choice(
                [
                    f"SKU {rng.randint(10, 99)}-{rng.choice('ABCDEF')}",
                    f"HX-{rng.randint(100, 999)}/{rng.randint(1, 9)}",
                    f"BRG-{rng.randint(6000, 6999)}.2RS",
                    f"part_{rng.choice(('vent', 'pump', 'gate'))}_{rng.randint(10, 99)}",
                ]
            )
            price = rng.randint(1001, 9999)
            lines.append(
                f"{sku}: {part}. Price {_thousands(price)}.00 soles, weight "
                f"{rng.randint(40, 900)} g. Supplied by {_name(rng, people)}'s workshop in "
                f"{rng.choice(sorted(places))}. Order at least two weeks ahead.\n"
            )
            if len([q for q in codes if q.file == file]) < 3:
                key = sku.removeprefix("SKU ")
                asked = f"What is {sku}?" if len(codes) % 2 else key
                codes.append(Question("code", asked, file, part.split()[0]))
            elif len([q for q in numbers if q.file == file]) < 2:
                written = str(price) if year == 2024 else _thousands(price)
                numbers.append(
                    Question("number", f"Which part costs {written}.00 soles?", file, part)
                )
        files[file] = lines

    # -- invoices
    file = "invoices-2024.txt"
    lines = ["Invoices issued by the cooperative in 2024.\n"]
    for number in rng.sample(range(10, 99), 14):
        invoice = f"INV-2024-{number:04d}"
        customer = _name(rng, people)
        amount = rng.randint(1200, 98000)
        lines.append(
            f"Invoice {invoice}, issued to {customer} for {rng.choice(PRODUCTS)}: "
            f"{_thousands(amount)} soles, due in {rng.choice(MONTHS)}. Paid by bank transfer.\n"
        )
        if len([q for q in codes if q.file == file]) < 4:
            asked = f"Who was billed on {invoice}?" if len(codes) % 2 else invoice
            codes.append(Question("code", asked, file, customer.split()[-1]))
        elif len([q for q in numbers if q.file == file]) < 3:
            numbers.append(
                Question("number", f"Whose invoice came to {amount} soles?", file, customer)
            )
    files[file] = lines

    # -- people: the cooperative's members and their jobs
    jobs = """treasurer|veterinary assistant|head shearer|weaving instructor|radio operator|
    fibre sorter|accountant|driver of the truck|cook at the school|secretary of the assembly|
    guardian of the water tank|keeper of the seed store|nurse at the health post|beekeeper|
    carpenter|tour guide|dyer|night watchman|mechanic|market stall keeper""".split("|")
    for part, file in enumerate(("members-a-l.txt", "members-m-z.txt")):
        lines = ["Members of the Huacaya wool cooperative and what they do.\n"]
        for job in jobs[part * 10 : part * 10 + 10]:
            person = _name(rng, people)
            village = rng.choice(villages)[1]
            job = " ".join(job.split())
            lines.append(
                f"{person} lives in {village} and works as the cooperative's {job}. "
                f"Joined in {rng.randint(1990, 2022)}. {rng.choice(FILLER)}\n"
            )
            if len([q for q in names if q.file == file]) < 6 and len(names) < 25:
                names.append(Question("name", f"What does {person} do?", file, job.split()[-1]))
        files[file] = lines

    # -- handbooks written by hand: the paraphrase questions
    for file, paragraphs in HANDBOOKS.items():
        files[file] = [text + "\n" for text, _question, _fact in paragraphs]
        for _text, question, fact in paragraphs:
            questions.append(Question("paraphrase", question, file, fact))
    files["minutes-2024.txt"] = [MINUTES]

    questions = codes[:25] + numbers[:25] + names[:25] + questions[:25]
    questions += [Question("unanswerable", q, "", "") for q in unanswerable(villages)]
    return {name: "\n".join(lines) for name, lines in files.items()}, questions


def unanswerable(villages: list[tuple]) -> list[str]:  # type: ignore[type-arg]
    """Off-topic questions, and ones about codes, years and names the documents do not hold."""
    taken = {v[3] for v in villages}
    absent_year = next(y for y in range(1901, 2000) if y not in taken)
    return [
        "How do I bake sourdough bread at home?",
        "Who wrote the novel War and Peace?",
        "What is the capital city of Mongolia?",
        "How do I install Python packages with pip?",
        "Which football team won the 1998 World Cup?",
        "What is the boiling point of ethanol?",
        "How many moons does Jupiter have?",
        "What is the best way to learn to play the violin?",
        "How do I change a flat bicycle tyre?",
        "Who painted the Mona Lisa?",
        "What are the symptoms of a migraine?",
        "How do I reset my email password?",
        "What is the exchange rate between the euro and the yen?",
        "How long should I boil an egg for a soft yolk?",
        "What programming language is used to write Android apps?",
        "What does error code ERR-9931 mean?",
        "What is the price of part ZQ-771/8?",
        "Who was billed on invoice INV-2019-0999?",
        "Q118-Z",
        f"Which village was founded in {absent_year}?",
        "What does Gertrude Vanderbilt do at the cooperative?",
        "When does the ferry to the island leave on Sundays?",
        "How much does a new tractor for the cooperative cost?",
        "What is the cooperative's wifi password?",
        "Which vaccine protects llamas against rabies, and when is it given?",
    ]


# (paragraph, a question that paraphrases it, the fact a right answer holds)
HANDBOOKS: dict[str, list[tuple[str, str, str]]] = {
    "wool-handbook.txt": [
        (
            "Dyeing fibre. Natural colours come from plants of the valley: cochineal insects "
            "give red and purple, chilca leaves give green, and walnut husks give brown. The "
            "fleece is first simmered with alum as a mordant so the colour holds through "
            "washing.",
            "How do we colour sheep's yarn so the shade lasts?",
            "alum",
        ),
        (
            "Skirting. After shearing, each fleece is thrown onto a slatted table and the "
            "stained, matted edges are pulled away, together with the coarse belly hair. What "
            "remains is sorted by fineness into six grades.",
            "What happens to the dirty outer parts of a freshly cut coat?",
            "pulled away",
        ),
        (
            "Spinning. Beginners learn on a drop spindle made of a wooden shaft and a clay "
            "whorl. Twist is added by rolling the shaft on the thigh, and the spun thread is "
            "wound onto the shaft in a cone.",
            "What simple tool do newcomers start with to make thread?",
            "drop spindle",
        ),
        (
            "Storage. Finished skeins are kept in cotton bags with sprigs of muña, whose smell "
            "keeps moths away. Plastic bags are avoided because trapped damp makes the wool "
            "smell sour.",
            "How are finished bundles protected from insects that eat cloth?",
            "muña",
        ),
        (
            "Felting. Wet fibre rubbed with warm soapy water and pressure locks its scales "
            "together. Hats are felted over a wooden form and left to dry in the shade for two "
            "days.",
            "Why does warm soap and rubbing turn loose fleece into a solid sheet?",
            "scales",
        ),
    ],
    "herd-health.txt": [
        (
            "Heat stress. On clear days above 4,000 metres animals pant and stand in water "
            "troughs. Shade cloth over part of the corral and shearing before the hottest "
            "months prevent most cases.",
            "What keeps the animals from suffering on very sunny, hot afternoons?",
            "shade",
        ),
        (
            "Parasites. Faecal samples are sent to the district laboratory every April. Only "
            "animals with more than 500 eggs per gram are dosed, which slows the resistance of "
            "worms to the drugs.",
            "How do we decide which animals get a worming treatment?",
            "500",
        ),
        (
            "Teeth. The fighting teeth of males are cut with a wire saw at about two and a half "
            "years so that they cannot injure other males during fights over the herd.",
            "Why are the sharp canines of young males trimmed?",
            "injure",
        ),
        (
            "Birth. Crias are born in the morning, usually before noon, which lets them dry and "
            "stand before the cold night. A newborn should drink colostrum within six hours.",
            "At what time of day do babies usually arrive, and why does that matter?",
            "morning",
        ),
        (
            "Toenails. Animals on soft pasture do not wear their nails down; they are trimmed "
            "with shears every three months so the animals walk on their pads.",
            "How often are the feet of animals kept on soft grass looked after?",
            "three months",
        ),
    ],
    "water-and-energy.txt": [
        (
            "Drinking water. Water from the spring is passed through a slow sand filter and "
            "left in clear bottles in full sun for six hours; the sunlight kills most germs.",
            "How do we make spring water safe to drink without boiling it?",
            "sun",
        ),
        (
            "Solar panels. Dust and bird droppings cut the output of the panels by up to a "
            "quarter. Wipe them with a soft brush and plain water early in the morning, never "
            "at midday when the glass is hot.",
            "When and how should the roof electricity plates be cleaned?",
            "morning",
        ),
        (
            "Batteries. The lead-acid batteries of the health post must not be discharged "
            "below half their capacity; deep discharges shorten their life to two years.",
            "What shortens the lifespan of the clinic's power storage?",
            "half",
        ),
        (
            "Rainwater. Roofs of corrugated iron collect about 500 litres per square metre in "
            "a wet year. The first flush of each storm is diverted so that dust does not reach "
            "the tank.",
            "Why is the start of each downpour sent away from the cistern?",
            "dust",
        ),
        (
            "Stoves. Improved clay stoves with a chimney use a third less dung than open "
            "fires and take the smoke out of the kitchen, which protects the lungs of the "
            "cooks and children.",
            "What is gained by cooking on an enclosed hearth with a flue?",
            "smoke",
        ),
    ],
    "kitchen-and-market.txt": [
        (
            "Chuño. Small bitter potatoes are left out on frosty nights, trampled to squeeze "
            "out their water and dried in the sun. Freeze-dried this way they keep for years.",
            "How are tubers preserved for a long time using the cold nights?",
            "frost",
        ),
        (
            "Quinoa. The seeds are washed and rubbed in several changes of water until the "
            "water no longer foams, which removes the bitter saponin coating.",
            "Why does the grain have to be scrubbed until there are no more bubbles?",
            "saponin",
        ),
        (
            "Market day. Stalls are assigned by drawing lots at seven in the morning; anyone "
            "who arrives after the draw takes the places left at the far end of the square.",
            "How is it decided who sells where on the weekly selling day?",
            "lots",
        ),
        (
            "Prices. The assembly fixes a minimum price for fibre each season so that members "
            "do not undercut each other when the traders arrive from the city.",
            "What stops members from selling below each other to outside buyers?",
            "minimum price",
        ),
        (
            "Cheese. Fresh cheese is salted in brine for one night and eaten within a week; it "
            "is not aged because the cellar is too warm in summer.",
            "Why is the farm's curd product not matured for long?",
            "warm",
        ),
    ],
    "office-and-travel.txt": [
        (
            "Computers. The office laptop backs up every Friday to the encrypted drive kept in "
            "the treasurer's safe. The drive is never left plugged in overnight.",
            "Where do copies of the office machine's files go, and how often?",
            "Friday",
        ),
        (
            "Visitors. Tourists who want to see shearing must book through the tour guide at "
            "least three days ahead, and groups are limited to twelve people.",
            "How many guests may come at once to watch the animals being clipped?",
            "twelve",
        ),
        (
            "Bus. The bus to the city leaves from the church square at five in the morning on "
            "Tuesdays and Fridays; the trip takes about seven hours.",
            "When can I catch public transport into town?",
            "five",
        ),
        (
            "Altitude. Visitors coming from the coast should rest on their first day, drink "
            "coca tea and avoid alcohol, because headaches and breathlessness are common above "
            "3,800 metres.",
            "What should newcomers from sea level do to avoid mountain sickness?",
            "rest",
        ),
        (
            "Meetings. The assembly's decisions are valid only when two thirds of the members "
            "are present; the secretary counts the signatures in the book at the door.",
            "How many people must attend for a vote of the general gathering to count?",
            "two thirds",
        ),
    ],
}

MINUTES = (
    "Minutes of the assembly, 3 March 2024. Present: 41 members. The treasurer reported the "
    "sale of 1,870 kg of fibre at the spring fair. The assembly approved buying a second "
    "shearing machine and repairing the roof of the storehouse before the rains. The next "
    "assembly will elect a new secretary.\n\nMinutes of the assembly, 2 June 2024. Present: 37 "
    "members. The new secretary was elected by show of hands. The school asked for help "
    "painting its classrooms during the holidays; twelve members volunteered.\n"
)


def write(folder: Path, seed: int = 25) -> list[Question]:
    """Write the corpus into ``folder``; returns the questions."""
    texts, questions = build(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return questions
