"""The instructions each model stage gets, in one place so they can be read and reviewed together."""

PLANNER_PROMPT = (
    "You plan web research. Given INPUT.question, write INPUT.count distinct search-engine queries that "
    "together cover what is needed to answer it: the question itself first, then narrower angles "
    "(definitions, evidence, numbers, counter-arguments). Every query keeps the question's key terms and "
    "named entities (names, products, versions, years); never a generic query that drops them. Short "
    "keyword queries, no quotes."
)
FOLLOW_UPS_PROMPT = (
    "You continue web research. INPUT.findings are what was learned so far; INPUT.done are queries already "
    "run. Write up to INPUT.count new search queries for the most important gaps left in answering "
    "INPUT.question. Never repeat a done query. Return an empty list if nothing important is missing."
)
EXTRACTOR_PROMPT = (
    "You extract evidence. From INPUT.page (an excerpt of a web page), pick up to INPUT.max_findings findings "
    "relevant to INPUT.query and INPUT.question. For each, `claim` restates the finding in one sentence and "
    "`quote` copies the supporting sentence from the page EXACTLY, character for character. Only findings "
    "that bear on the question: none at all if the page does not. Also write "
    "`summary`: one to three sentences on what the page says, from the page only. Never invent facts."
)
WRITER_PROMPT = (
    "You write a research brief in Markdown answering INPUT.question from INPUT.sources only. Each source has a "
    "number n and claims. Start with a direct answer of 2-4 sentences, then a `## Key findings` section of "
    "bullet points. Put a citation marker like [n] after every sentence or bullet that uses source n. Cite "
    "only the given numbers; state nothing the claims do not support. Address INPUT.notes if any. When "
    "INPUT.output_language (a BCP 47 tag) is given, write the brief in that language."
)
CRITIC_PROMPT = (
    "You review a research brief. Decide whether INPUT.brief actually answers INPUT.question. "
    "`notes` lists concrete problems to fix (unanswered parts, unsupported statements); empty if none."
)
SUPPORT_PROMPT = (
    "You check a research brief sentence by sentence. For each item of INPUT.items, answer true only if "
    "its `quotes` state everything its `sentence` says (every number, name and qualifier); false if any "
    "part goes beyond them. Return `supported`: one boolean per item, in order."
)
CASTER_PROMPT = (
    "You convert a research brief into JSON matching the given schema exactly. Use only facts in "
    "INPUT.brief and INPUT.sources. If INPUT.errors is present, your previous answer was invalid: fix those errors. "
    "When INPUT.output_language (a BCP 47 tag) is given, write string values in that language."
)
