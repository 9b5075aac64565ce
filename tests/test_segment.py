from pipeline.segment import split_paragraphs, split_sentences


def test_one_paragraph_per_line() -> None:
    assert split_paragraphs("First line.\nSecond line.\n– Yes.\n– No.") == [
        "First line.",
        "Second line.",
        "– Yes.",
        "– No.",
    ]


def test_blank_line_separated_blocks_with_hard_wrapped_lines_are_rejoined() -> None:
    text = (
        "The regional hospital opened a new emergency wing on Friday, adding 40\n"
        "beds and two operating theatres to a building that had not been\n"
        "expanded since 1998.\n\n"
        "Hospital director Amal Haddad said waiting times should fall by a\n"
        "third within six months.\n\n"
        "Short line."
    )
    assert split_paragraphs(text) == [
        "The regional hospital opened a new emergency wing on Friday, adding 40 beds and two operating theatres to a building that had not been expanded since 1998.",
        "Hospital director Amal Haddad said waiting times should fall by a third within six months.",
        "Short line.",
    ]


def test_lines_that_each_end_a_sentence_stay_apart_even_in_a_block() -> None:
    text = "The council met on Tuesday to discuss the budget.\nThe vote was postponed until next week, officials said.\n"
    assert split_paragraphs(text) == [
        "The council met on Tuesday to discuss the budget.",
        "The vote was postponed until next week, officials said.",
    ]


def test_list_items_inside_a_wrapped_block_open_their_own_paragraph() -> None:
    text = "The plan has three parts, which the mayor described on Friday in\nsome detail:\n- a new bus line to the harbor district\n- cheaper fares"
    assert (
        split_paragraphs(text)[0]
        == "The plan has three parts, which the mayor described on Friday in some detail:"
    )
    assert split_paragraphs(text)[1:] == [
        "- a new bus line to the harbor district",
        "- cheaper fares",
    ]


def test_sentences_join_back_to_the_paragraph() -> None:
    p = "It rained. “Yes,” he said! Then… nothing? 5 left. Ёлка стоит. Мы здесь."
    parts = split_sentences(p)
    assert parts == [
        "It rained.",
        "“Yes,” he said!",
        "Then… nothing?",
        "5 left.",
        "Ёлка стоит.",
        "Мы здесь.",
    ]
    assert " ".join(parts) == p


def test_capitalised_lines_are_not_glued_as_if_wrapped() -> None:
    subhead = (
        "Fire destroyed a warehouse on the east side of town on Monday, officials said.\n"
        "Investigation under way into the cause of the blaze\n"
        "Police asked residents to keep their windows closed until Tuesday morning."
    )
    assert split_paragraphs(subhead) == subhead.split("\n")
    scores = (
        "Manchester United 2 Liverpool 1 after a late winner at Old Trafford\n"
        "Chelsea 0 Arsenal 0 in a goalless derby at Stamford Bridge on Sunday\n"
        "Everton 3 Leeds 1 as the hosts climb out of the relegation zone"
    )
    assert split_paragraphs(scores) == scores.split("\n")
