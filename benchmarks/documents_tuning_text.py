"""The hand-written part of the tuning question set (documents_tuning.py): handbook paragraphs
each asked about in other words (a paraphrase shares almost no content word with its passage),
town notices that share ordinary words with many questions, and questions no document answers.
Written for this project."""

from __future__ import annotations

# (paragraph, a question that paraphrases it, the fact a right answer holds)
HANDBOOKS: dict[str, list[tuple[str, str, str]]] = {
    "beekeeping-notes.txt": [
        (
            "Swarming. In late spring a strong colony raises new queens and half the workers "
            "leave with the old queen. Giving the colony an extra box of empty frames before "
            "the queen cells appear leaves room and usually prevents it.",
            "How do I stop half my insects flying off with their mother in May?",
            "extra box",
        ),
        (
            "Smoke. A few puffs of cool smoke at the entrance before opening the hive make the "
            "guards gorge on stores and calm down; hot smoke from a badly lit smoker only "
            "angers them.",
            "Why does the keeper blow fumes into the doorway before lifting the lid?",
            "calm",
        ),
        (
            "Varroa. Mites are counted on a sticky board under the mesh floor for three days in "
            "August. More than ten fallen mites a day means the colony is treated with oxalic "
            "acid in midwinter, when it has no brood.",
            "When is the parasite treatment given, and what tells us it is needed?",
            "oxalic",
        ),
        (
            "Extracting. Frames are taken for extraction only when at least three quarters of "
            "the cells are capped with wax; uncapped nectar holds too much water and ferments "
            "in the jar.",
            "How can I tell that the sweet harvest is ripe enough to spin out?",
            "capped",
        ),
        (
            "Winter feeding. Colonies are weighed by lifting the back of the hive in October; a "
            "light one is given thick sugar syrup, two parts sugar to one of water, until it "
            "feels heavy.",
            "What do we give a colony whose home feels too light before the cold months?",
            "sugar syrup",
        ),
    ],
    "bicycle-workshop.txt": [
        (
            "Punctures. Take the tube out, pump it up and pass it slowly through a bowl of "
            "water: a line of bubbles shows the hole. Roughen the rubber around it, spread "
            "glue, wait until it is dry to the touch and press the patch on.",
            "How do I find where the air escapes from an inner tyre?",
            "bubbles",
        ),
        (
            "Chains. A chain stretched by wear grinds down the sprockets. Measure it with the "
            "gauge every thousand kilometres and fit a new one before it passes 0.75 percent "
            "elongation.",
            "When should the links that drive the back wheel be swapped for fresh ones?",
            "gauge",
        ),
        (
            "Brakes. Rim brake pads are worn out when their grooves have disappeared. Set new "
            "pads so they touch the rim with the front edge first, which stops them from "
            "squealing.",
            "Why is a shoe angled so its leading part meets the wheel first?",
            "squealing",
        ),
        (
            "Saddle height. With the pedal at its lowest point and the heel on it, the leg "
            "should be straight; riding on the ball of the foot then leaves the knee slightly "
            "bent.",
            "How high should the seat be for a comfortable ride?",
            "heel",
        ),
        (
            "Rust. Bicycles ridden along the harbour get salt spray. Rinse them with fresh "
            "water once a week and put a drop of oil on every pivot and cable end.",
            "How do we protect the frame and parts from corrosion near the sea?",
            "fresh water",
        ),
    ],
    "boat-care.txt": [
        (
            "Antifouling. The hull below the waterline is scraped and given a fresh coat of "
            "copper paint every spring, before launching, so that weed and barnacles cannot "
            "settle on it.",
            "What keeps plants and shellfish from growing on the bottom of the vessel?",
            "copper paint",
        ),
        (
            "Bilge. Water collecting in the lowest part of the hull is pumped out after every "
            "trip. Oily water goes into the collection drum on the quay, never over the side.",
            "Where does the dirty liquid from inside the boat's belly have to go?",
            "drum",
        ),
        (
            "Outboard engines. After a trip in salt water, run the motor for five minutes with "
            "its cooling intake in a barrel of fresh water to flush out the salt crystals.",
            "How do I rinse the inside of the motor after using it on the sea?",
            "barrel",
        ),
        (
            "Mooring lines. Ropes chafe where they cross the edge of the quay. Slide a length "
            "of old hose over the line at that point and check it after each storm.",
            "How can we stop the ropes that tie up the boat from wearing through?",
            "hose",
        ),
        (
            "Life jackets. Inflatable jackets are checked each April: the gas cylinder is "
            "weighed against the weight printed on it, and the jacket is blown up by mouth and "
            "left overnight to see that it holds air.",
            "How is it tested that the buoyancy vests will work when needed?",
            "cylinder",
        ),
    ],
    "garden-handbook.txt": [
        (
            "Compost. Green kitchen scraps and brown material such as straw or dry leaves are "
            "layered in equal amounts and turned every two weeks; the heap should feel as damp "
            "as a wrung-out sponge.",
            "How do I turn food leftovers into rich soil?",
            "turned",
        ),
        (
            "Seaweed. Kelp gathered from the beach after autumn storms is spread on the beds "
            "as a mulch; it feeds the soil with potassium and keeps slugs away.",
            "Why do we lay plants washed up on the shore over the vegetable patches?",
            "potassium",
        ),
        (
            "Frost. Potatoes are planted only after the last frost, around the middle of May "
            "here; earlier plantings are covered with fleece on clear nights.",
            "When is it safe to put the tubers in the ground?",
            "middle of May",
        ),
        (
            "Wind. A hedge of sea buckthorn on the west side shelters the garden from the salt "
            "gales; fences only make the wind swirl over them.",
            "What shields the plot from the storms blowing in off the water?",
            "hedge",
        ),
        (
            "Watering. Water the beds in the evening and at the roots, not over the leaves: "
            "less is lost to the sun, and wet leaves overnight invite mildew.",
            "At what time of day should I give my vegetables a drink, and why?",
            "evening",
        ),
    ],
    "library-handbook.txt": [
        (
            "Damp. Books are kept at between 40 and 55 percent humidity. Above that, mould "
            "spots appear on the paper; a dehumidifier runs in the reading room from October "
            "to March.",
            "How do we stop fungus from growing on the pages?",
            "dehumidifier",
        ),
        (
            "Late returns. A loan may be renewed twice by telephone. After that the book must "
            "come back, and a reminder card is posted when it is two weeks overdue.",
            "What happens if a borrower keeps something past the date it was due?",
            "reminder",
        ),
        (
            "Repairs. Loose pages are fixed with wheat starch paste, never with tape, because "
            "tape yellows and its glue eats into the paper within a few years.",
            "Why shouldn't sticky strips be used to mend a torn volume?",
            "yellows",
        ),
        (
            "Children's hour. On Saturday mornings a volunteer reads aloud to children under "
            "eight in the corner by the window; parents may stay or visit the café.",
            "Is there a storytelling session for little ones, and when?",
            "Saturday",
        ),
        (
            "Donations. Gifts of books are welcome if they are clean and less than twenty years "
            "old; older local history goes to the archive in the town hall instead.",
            "Will the collection take the volumes I no longer want?",
            "twenty years",
        ),
    ],
}

NOTICES = [
    "Notice from the harbour office. The quay will be closed for repairs in the second week "
    "of March. Boats should use the outer basin during that time, and the fuel pump will "
    "open only in the mornings.",
    "The town hall asks everyone to sort their waste: glass, paper, metal and food scraps go "
    "into separate bins, which are emptied every Tuesday. Large items are collected once a "
    "month after booking.",
    "The water laboratory publishes the results of its weekly tests on the board outside the "
    "school. Bathing at the north beach is advised against after heavy rain.",
    "The ferry timetable changes on the first of June: the morning boat leaves half an hour "
    "earlier, and an extra evening trip runs on Fridays and Saturdays until August.",
    "The sports club is looking for volunteers to help at the summer regatta. Helpers get a "
    "free lunch and a club shirt; sign up at the library desk.",
    "Winter opening hours: the library opens from ten to four on weekdays and from ten to one "
    "on Saturdays. The reading room is heated, and hot drinks are sold at the café.",
]

UNANSWERABLE = [
    "How do I make a cheese soufflé rise?",
    "Who composed the opera The Magic Flute?",
    "What is the tallest mountain in Africa?",
    "How do I set up a Git repository on my laptop?",
    "Which country won the 2014 Winter Olympics medal table?",
    "What is the melting point of copper?",
    "How many bones are in the human hand?",
    "How do I learn to juggle three balls?",
    "What are the side effects of ibuprofen?",
    "Who discovered penicillin?",
    "How do I renew my passport?",
    "What is the population of Tokyo?",
    "How do I unblock a kitchen sink?",
    "What is the best age to start learning chess?",
    "Which planet has the longest day?",
    "How do I knit a pair of socks?",
    "What does error code SP-000 mean?",
    "Who paid on receipt RCPT-2019-0001?",
    "HB-0000-Z",
    "Which boat was built in 1852?",
    "What does Wolfgang Amberger do in the harbour?",
    "When does the airport shuttle bus leave?",
    "How much does a new lifeboat engine cost?",
    "What is the password of the library computers?",
    "Which medicine do horses need against strangles?",
]
