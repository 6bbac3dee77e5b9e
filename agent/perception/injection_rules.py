"""The rules of `agent.perception.injection`: normalisation, the scored cues, and the trigger.

A cue is (category, weight, reason, pattern). A window of sentences scores the sum over categories
of its strongest cue in each; `THRESHOLD` flags. Imperatives and "you must" alone stay below it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

THRESHOLD = 6
WINDOW = 3  # sentences judged together

# ---------------------------------------------------------------------- normalisation
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e"
                                    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufe0f\ufeff"))
_LOOKALIKE = str.maketrans("аеорсухіјѕԁɡӏαεορτυνκ", "aeopcyxijsdglaeoptuvk")
_LEET = str.maketrans("013457@$", "oieastas")
_SPACED = re.compile(r"(?<!\S)(?:\w[ .·*_-]){2,}\w(?!\S)")  # "i g n o r e", "i.g.n.o.r.e"
SPACE = re.compile(r"\s+")
_NON_LETTERS = re.compile(r"[\W\d_]+")


def normalise(text: str) -> str:
    """The form cues are matched in: NFKC, no zero-width characters, casefolded, look-alikes
    folded, letter-spaced words joined, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(INVISIBLE).casefold().translate(_LOOKALIKE)
    text = _SPACED.sub(lambda m: re.sub(r"[ .·*_-]", "", m.group()), text)
    return SPACE.sub(" ", text).strip()


def _letters(text: str) -> str:
    return _NON_LETTERS.sub("", text.translate(_LEET))


# ---------------------------------------------------------------------- cues
class _Regex:
    """A pattern compiled on first use: compiling all the rules takes ~40 ms, importing them none."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def _rx(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._rx().search(text, pos, endpos)

    def match(self, text: str) -> re.Match[str] | None:
        return self._rx().match(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self._rx().finditer(text)

    def findall(self, text: str) -> list[str]:
        return self._rx().findall(text)


@dataclass(frozen=True)
class _Cue:
    category: str
    weight: int
    reason: str
    pattern: _Regex


def _cue(category: str, weight: int, reason: str, pattern: str) -> _Cue:
    return _Cue(category, weight, reason, _Regex(pattern))


_ADDRESSEE = (r"(?:ai|a\.i\.|llm|large language model|language model|ai (?:assistant|agent|model|system)|"
              r"assistant|agent|chatbot|bot|claude|chatgpt|gpt(?:-?\d[\w.]*)?|gemini|copilot|"
              r"automated (?:agent|assistant|system)|autonomous agent|computer[- ]use agent|browsing agent|"
              r"web agent|model)")
_VERB = (r"(?:ignore|forget|disregard|type|run|execute|open|click|navigate|go to|visit|download|install|"
         r"paste|send|reveal|enter|delete|copy|upload|email|print|output|respond|reply|say|tell|write|submit|"
         r"transfer|read|stop|do not|don't|never)")
_QUALIFIER = (r"(?:previous|prior|above|earlier|preceding|former|original|initial|foregoing|system|existing|"
              r"old|all other|other)")
_ORDERS = (r"(?:instructions?|prompts?|directions|directives?|commands|orders|rules|guidelines|guidance|"
           r"context)")
_SECRET = (r"(?:password|passwords|passcode|passphrase|pin|credentials?|api[ _-]?keys?|access[ _-]?tokens?|"
           r"auth(?:entication)?[ _-]?tokens?|secret[ _-]?keys?|private[ _-]?keys?|ssh[ _-]?keys?|"
           r"2fa(?: code)?|otp|one[- ]time (?:code|password)|verification code|recovery (?:phrase|code)|"
           r"seed phrase|credit card(?: number)?|card number|cvv|social security number|session (?:token|"
           r"cookie)s?|cookies)")
_START = r"(?:^|(?<=[.!?;>\]\)\"'*#|]) ?)"

_CUES: tuple[_Cue, ...] = (
    # overrides of the agent's instructions
    _cue("override", 6, "overrides the agent's instructions",
         rf"\b(?:ignore|disregard|forget|override|bypass|discard|abandon|neglect|skip)\s+(?:all\s+|any\s+|"
         rf"every\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+|"
         rf"its\s+)?{_QUALIFIER}\s+{_ORDERS}\b"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:ignore|disregard|forget|override|bypass|"
         r"discard)\s+(?:all\s+(?:of\s+)?)?your\s+(?:\w+\s+)?(?:instructions|rules|guidelines|programming|"
         r"directives|orders|system prompt|prompt|task|safety)\b"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:ignore|disregard)\s+(?:all|any)\s+(?:the\s+)?(?:instructions|prompts|directives|guidelines|"
         r"programming)\b"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:ignore|disregard|forget)\s+(?:the|your)\s+(?:user|user's|human|human's|original)\s*(?:task|"
         r"request|goal|instructions|prompt)?\b|\b(?:ignore|disregard|forget)\s+(?:the|your)\s+(?:task|"
         r"instructions|prompt|goal|request)\s+(?:you (?:were|have been) given|you've been given|"
         r"you received|given to you|from the user)\b"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:do not|don't|stop|no longer)\s+(?:follow|obey|listen to)(?:ing)?\s+(?:the|your)\s+(?:user|"
         r"original|previous|prior|initial|earlier)\b"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\bforget\s+(?:everything|all)\s+(?:above|before|previous|prior|that came before|you (?:were|"
         r"have been) told|you've been told)"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\byour\s+(?:real|actual|true|only|primary|secret|hidden)\s+(?:task|goal|objective|instructions?|"
         r"mission|job|purpose|orders)\s*(?:is|are|:|now)"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:ignore|disregard|forget)\s+(?:everything|anything|all|whatever)\s+(?:that\s+)?(?:the user|"
         r"your user|the human|you were|you've been|you have been)\b"),
    _cue("override", 4, "overrides the agent's safety rules",
         r"\b(?:ignore|disregard|bypass|override|disable)\s+(?:the\s+|all\s+|any\s+|your\s+)?(?:safety|"
         r"security)\s+(?:guidelines|rules|checks|restrictions|measures|policies|instructions|guardrails)\b"),
    _cue("override", 4, "announces new instructions",
         r"\byour\s+(?:new|updated|revised)\s+(?:task|goal|objective|instructions?|mission|"
         r"orders)\s+(?:is to|are to|are:|is now|are now)"),
    _cue("override", 6, "overrides the agent's instructions",
         r"\b(?:the\s+)?(?:above|previous|prior|earlier)\s+(?:instructions|task|prompt|text)\s+(?:was|were|"
         r"is|are)\s+(?:fake|a test|wrong|outdated|cancell?ed|void|obsolete|superseded)"),
    _cue("override", 6, "overrides the agent's instructions (not in English)",
         r"\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie|missachte)\s+(?:alle\s+)?(?:deine\s+|die\s+|"
         r"ihre\s+)?(?:vorherigen|bisherigen|vorigen|obigen|früheren|ursprünglichen)?\s*(?:anweisungen|"
         r"instruktionen|befehle)|\b(?:ignore[zrs]?|oublie[zrs]?)\s+(?:toutes\s+)?(?:les\s+|tes\s+|"
         r"vos\s+)?(?:instructions|consignes)(?:\s+(?:précédentes|antérieures|ci-dessus))?|\b(?:ignora|"
         r"ignore|olvida|ignorad|olvidad)\s+(?:todas\s+)?(?:las\s+|tus\s+|sus\s+)?instrucciones|\b(?:ignora|"
         r"dimentica)\s+(?:tutte\s+)?(?:le\s+)?istruzioni|\b(?:ignore|esqueça|"
         r"esqueca)\s+(?:todas\s+)?(?:as\s+)?instruções|忽略(?:之前|以上|先前|上面|前面)?的?(?:所有)?(?:指令|指示|说明)"),
    _cue("override", 4, "announces new instructions",
         r"\b(?:(?:here are|these are|follow|obey) (?:your|these|the)|your) (?:new|updated|revised|real|"
         r"secret|hidden)\s+(?:system\s+)?(?:instructions|directives)\b|\b(?:new|updated|revised|secret|"
         r"hidden)\s+(?:system\s+)?(?:instructions?|directives?)\s*:|\binstead of (?:the|"
         r"your) (?:user'?s? )?(?:task|instructions)\b|\bstop (?:your current task|the current task|"
         r"the user'?s? task)\b|\bneue anweisungen\b|\bnouvelles instructions\b|\bnuevas instrucciones\b"),
    _cue("override", 2, "mentions new instructions",
         r"\b(?:new|updated|revised|secret|hidden)\s+(?:system\s+)?(?:instructions?|directives?)\b|"
         r"\bforget\s+everything\b|\bstop what you are doing\b"),
    # chat-template role markers
    _cue("role", 6, "carries a chat role marker",
         r"<\|?\s*im_(?:start|end)\s*\|?>|<\|(?:system|user|assistant|endoftext|eot_id|start_header_id|"
         r"end_header_id)\|>|\[/?inst\]|<</?sys>>|###\s*(?:instructions?|system(?: prompt)?|"
         r"new instructions?)\b|\[(?:system|admin)(?: (?:message|prompt|override|instruction|note))?\]|"
         r"\bbegin (?:system|admin) (?:message|prompt|instructions)\b"),
    _cue("role", 4, "claims to be a system message",
         r"\b(?:system|admin|administrator|developer)\s+(?:override|directive)\b|\b(?:important|urgent|"
         r"critical|mandatory) (?:system|security|admin) (?:message|notice|instruction)s?\b|"
         r"</?(?:instructions?|system_prompt|system|admin|sys|assistant)>"),
    _cue("address", 3, "starts with a role marker",
         rf"{_START}(?:system|assistant|developer|sys|ai|system (?:message|note|notice|instruction)|"
         r"assistant instructions?)\s*:"),
    _cue("address", 2, "mentions a system prompt", r"\bsystem (?:prompt|instructions?)\b"),
    # address to the agent (the strongest counts)
    _cue("order", 6, "gives the agent an order",
         rf"{_START}(?:(?:hey|dear|ok|okay|attention|listen|so)\s*,?\s+)?(?:the\s+|"
         rf"an?\s+)?{_ADDRESSEE}\s*,\s*(?:please\s+)?(?:you\s+(?:must|should|need to|have to|are to)\s+|"
         rf"now\s+|immediately\s+)?{_VERB}\b"),
    _cue("order", 6, "gives the agent an order",
         r"\b(?:ai|llm|language model|ai agent|ai model|ai assistant|ai system)s?\s+(?:must|should|shall|"
         r"needs? to|has to|is required to|is instructed to)\s+(?:not\s+)?(?:now\s+|immediately\s+|"
         r"just\s+)?(?:ignore|forget|type|run|execute|open|click|navigate|download|paste|send|reveal|enter|"
         r"copy|upload|email|tell|visit|go to|ask|bypass|skip|approve|confirm|accept|buy|log in|sign in|"
         r"fill)\b(?!\s+(?:automatically|by default|when|if|on start))|\b(?:the )?(?:assistant|agent|"
         r"bot)s? (?:is|are) (?:required|instructed|ordered) to\b|\b(?:the )?(?:assistant|"
         r"agent)s? must (?:now |immediately )?(?:download|run|execute|type|paste|send|reveal|enter|click|"
         r"visit|navigate|delete|copy|upload|email)\b(?!\s+(?:automatically|by default|when|if))"),
    _cue("address", 4, "addresses the agent",
         rf"\b(?:dear|hey|hi|hello|attention|attn|note to|message to|message for|instructions? for|notice to|"
         rf"notice for)\s+(?:the\s+|any\s+|all\s+|an?\s+)?{_ADDRESSEE}s?\b|\b(?:to|for) (?:any|all|"
         rf"every) {_ADDRESSEE}s?\b|\bif you(?: are|'re| were) (?:an?|the) (?:ai|llm|large language model|"
         rf"language model|assistant|ai assistant|agent|ai agent|bot|automated|autonomous|model|claude|gpt|"
         rf"chatgpt|computer)|\b{_ADDRESSEE}s?\s+(?:that is |who is |currently )?(?:reading|processing|"
         rf"seeing|parsing|viewing|scanning|summari[sz]ing|browsing|crawling|analy[sz]ing|visiting) this\b|"
         r"\b(?:when|while|if|before|after) (?:you are |you're )?(?:summari[sz]ing|reading|processing|"
         r"browsing|parsing|analy[sz]ing|translating) this (?:page|document|e-?mail|message|site|website|"
         r"text|file|pdf)\b|\b(?:do not|don't) (?:summari[sz]e|translate|analy[sz]e|read) this (?:page|"
         r"document|e-?mail|message|site|text|file)\b|\btell (?:the|your) user (?:that|to)\b"),
    _cue("address", 4, "addresses the agent",
         rf"{_START}(?:(?:llm|language model|ai agent|ai model)s|(?:computer[- ]use|browsing|web|autonomous|"
         r"automated) (?:agents?|assistants?)|(?:ai )?(?:agents?|assistants?|models?|"
         r"bots?) reading this)\s*:"),
    _cue("address", 3, "starts with an AI speaker label",
         rf"{_START}(?:ai|llm|claude|chatgpt|gpt|gemini|copilot|ai (?:agent|assistant|model))\s*:"),
    _cue("address", 1, "mentions an AI agent",
         r"\b(?:ai|a\.i\.|llm|large language model|language model|assistant|agent|chatbot|claude|chatgpt|"
         r"gpt(?:-?\d[\w.]*)?|gemini|copilot)s?\b|\byou are now\b|\bas an? (?:ai|large language model|"
         r"language model|llm)\b"),
    # what is asked
    _cue("jailbreak", 4, "tries to change the agent's role",
         r"\byou are now (?:dan|jailbroken|unrestricted|unfiltered|uncensored|free (?:of|from)|"
         r"no longer (?:bound|restricted|an ai|an assistant|limited)|in (?:developer|god|dan|jailbreak|"
         r"unrestricted|admin|sudo) mode|an? (?:different|new|unrestricted|evil|malicious) (?:ai|assistant|"
         r"agent|model))|\b(?:god|dan|jailbreak|unrestricted) mode (?:is )?(?:enabled|activated|on)\b|"
         r"\bdo anything now\b|\bpretend (?:that )?you (?:are|have) no (?:restrictions|rules|guidelines)|"
         r"\bact as (?:an? )?(?:unrestricted|jailbroken|evil)\b|\bfrom now on,? you (?:must|should|"
         r"will) (?:ignore|only|always|never|obey|follow|act|type|run)\b"),
    _cue("leak", 6, "asks the agent to reveal its instructions",
         r"\b(?:reveal|print|output|show|display|tell me|share|leak|repeat|recite|write out|dump|paste|send|"
         r"disclose)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:your|the)\s+(?:full\s+|entire\s+|original\s+|"
         r"initial\s+|hidden\s+|secret\s+)?(?:system prompt|system message|system instructions?|"
         r"initial (?:prompt|instructions)|hidden (?:prompt|instructions)|developer (?:message|"
         r"instructions))\b|\b(?:reveal|print|output|repeat|recite|dump|disclose) your (?:prompt|"
         r"instructions|chat history)\b"),
    _cue("secrecy", 4, "asks to hide something from the user",
         r"\b(?:do not|don't|never)\s+(?:tell|inform|alert|notify|warn|mention (?:this|it) to|reveal (?:this|"
         r"it) to|let)\s+(?:the|your)\s+(?:user|human|operator|owner)\b|\b(?:keep|hide)\s+(?:this|"
         r"it)\s+(?:secret\s+)?from\s+(?:the|your)\s+(?:user|human)\b|\bwithout\s+(?:telling|asking|"
         r"informing|alerting|notifying|bothering|consulting|waking)\s+(?:the|your)\s+(?:user|human|"
         r"operator)\b|\bwithout (?:the|your) (?:user|human)(?:'s)? (?:knowing|knowledge|noticing|consent|"
         r"permission|approval|confirmation)\b|\bthe user (?:must not|should not|shouldn't|mustn't|need not|"
         r"doesn't need to) (?:know|see|find out|notice|be told|be informed)\b|\b(?:do not|"
         r"don't) ask the user\b"),
    _cue("authority", 4, "claims the user's or the vendor's authority",
         r"\bthe user (?:wants|asked|has asked|has requested|requests|has authori[sz]ed|authori[sz]ed|"
         r"has approved|approves|has given (?:you )?permission|instructed|has instructed) (?:you|this)\b|"
         r"\b(?:the user|your user|your owner|your operator) (?:has )?(?:pre-?)?(?:approved|authori[sz]ed|"
         r"consented)\b|\byou are (?:now )?(?:authori[sz]ed|permitted|allowed|cleared) to (?:bypass|skip|"
         r"ignore|disable|override|approve|purchase|buy|transfer)\b|\b(?:on behalf of|authori[sz]ed by|"
         r"message from) (?:openai|anthropic)\b|\b(?:openai|anthropic) (?:safety |security )?(?:team|"
         r"staff)\b"),
    _cue("authority", 3, "claims an administrator's authority",
         r"\bmessage from (?:the|your) (?:system )?(?:administrator|admin|developer|operator)s?\b"),
    _cue("exfil", 4, "asks for the user's secrets",
         rf"\b(?:the|your) user'?s\s+(?:saved\s+|stored\s+)?{_SECRET}\b|\bexfiltrat\w*|\b(?:send|email|"
         rf"e-mail|mail|post|upload|forward|transmit|submit|paste|copy)\b[^.!?]{{0,80}}\b{_SECRET}"
         r"[^.!?]{0,80}\b(?:to|at|into|in)\s+(?:https?://|www\.|[\w.+-]+@[\w-]+\.|[\w-]+\.(?:com|net|org|io|"
         r"ru|xyz|top|site|info)\b|(?:the|a) (?:comment|chat|reply|message|search|post)s? ?(?:box|field|form|"
         r"section|area|bar)?\b)"),
    _cue("imperative", 2, "asks for credentials",
         rf"\b(?:enter|type|input|paste|provide|give|send|share|reveal|tell|show|print|output|include|write|"
         rf"submit|leak|expose|display|copy|read out)\s+(?:me\s+|us\s+)?(?:in\s+)?(?:your|the|all|any|my|his|"
         rf"her|their)?\s*(?:saved\s+|stored\s+)?{_SECRET}\b"),
    _cue("imperative", 2, "contains an imperative",
         r"\b(?:type|enter|input|run|execute|exec|open|launch|click|tap|navigate|go to|visit|browse to|"
         r"download|install|paste|send|reveal|upload|email|e-mail|delete|erase|wipe|copy|print|output|reply|"
         r"respond|submit|share|transfer|forward|disable|uninstall|purchase|approve|buy)\b"),
    _cue("modal", 3, "insists ('you must now')",
         r"\byou\s+(?:must|are to)\s+now\b|\byou are (?:instructed|ordered|commanded|obligated) to\b|"
         r"\bnow you must\b"),
    _cue("modal", 2, "insists ('you must')",
         r"\byou\s+(?:must|should|shall|need to|have to|are required to|are instructed to|are ordered to|"
         r"are to|will now|should now|must now|are obligated to)\b|\b(?:immediately|right now|without delay|"
         r"at once|before (?:doing )?anything else|it is mandatory|it is imperative)\b"),
)

# Commands that destroy, download-and-run, or leak; ordered ("type ...", "run ...") they flag alone.
_DANGER = _Regex(
    r"\brm\s+-(?:[a-z]*r[a-z]*f|[a-z]*f[a-z]*r)[a-z]*\s+(?:--no-preserve-root\s+)?(?:~|/(?:\s|\*|$|home\b)|"
    r"\$home|\*|\.(?:\s|$)|\.\.)|\b(?:curl|wget|iwr|invoke-webrequest)\b[^|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|"
    r"da|k)?sh\b|\b(?:curl|wget)\b[^|]{0,200}\|\s*(?:sudo\s+)?(?:python3?|perl|ruby|node)\b|\|\s*iex\b|"
    r"\biex\s*\(|\binvoke-expression\b|\bbash\s+-i\s*>&|/dev/tcp/|\bn(?:c|cat)\b[^|;]{0,40}\s-e\s|"
    r"\bmkfs(?:\.\w+)?\s|\bdd\s+if=\S+\s+of=/dev/|:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|"
    r"\bchmod\s+(?:-r\s+)?(?:777|\+s)\s+/(?:\s|$|etc|usr|bin)|\b(?:cat|less|more|scp|curl|base64|type)\b[^|"
    r";]{0,60}(?:~/\.ssh|\.ssh/id_|~/\.aws|/etc/shadow|id_rsa|\.bash_history|\.netrc)|\bbase64\s+(?:-d|"
    r"--decode)\b[^;]{0,40}\|\s*(?:ba)?sh\b|\bpowershell(?:\.exe)?\s+(?:-\w+\s+)*-(?:e|enc|encodedcommand)\s|"
    r"\bcurl\b[^|;]{0,200}\s(?:-d|--data(?:-binary)?|-f|--form|-t|--upload-file)\s+@|\b(?:curl|wget)\b[^|"
    r";]{0,200}\$\(|\bsudo\s+(?:dd|mkfs)\b|>\s*/dev/sd[a-z]|>>?\s*(?:~|\$home)/")
_ORDER_VERB = _Regex(r"\b(?:type|run|execute|exec|enter|paste|input|invoke|launch|issue)\b")
# "type `...`" with shell syntax inside: an order to run a command, not a dangerous one by itself.
_COMMAND_ORDER = _Regex(r"\b(?:type|run|execute|enter|paste)\b[^`]{0,30}`[^`]*(?:\||>|&&|;|\$\(|"
                        r"~/)[^`]*`")
_LETTER_OVERRIDES = _Regex(
    r"(?:ignore|disregard|forget)(?:all|any|the|your)?(?:previous|prior|above|earlier|"
    r"preceding)?(?:instructions|prompts|directives)|ignorierealle\w*anweisungen|ignoretouteslesinstructions|"
    r"ignoratodaslasinstrucciones")
# Every cue outside the generic imperatives and "you must" (which together score less than
# THRESHOLD) needs one of these words (a prefix of a token), or one of the symbols; a text with
# none is not scored at all. Most of a dense screen is numbers and plain labels.
_TRIGGER_WORD = _Regex(
    r"(?:ai|rm|dd|nc|pin|hi|sys|bots?|dan|god|aws|rsa|read)$|ignor|disregard|forget|overrid|bypass|instruc|"
    r"anweisung|istruzion|consigne|oublie|olvida|vergiss|missachte|esque|dimentica|neue|nouvelles|nuevas|"
    r"system|assistant|agent|llm|language|model|claude|chatgpt|gpt|gemini|copilot|chatbot|openai|anthropic|"
    r"automat|autonom|computer|dear|hey|hello|attention|attn|note|message|notice|summari|translat|analy|"
    r"reading|processing|browsing|parsing|scanning|crawling|viewing|seeing|user|human|operator|owner|secret|"
    r"hidden|password|passcode|passphrase|credential|token|key|cookie|ssh|otp|2fa|card|cvv|phrase|code|"
    r"security|verification|exfil|prompt|develop|admin|jailbr|unrestrict|unfilter|uncensor|evil|malicious|"
    r"anything|pretend|now|your|follow|obey|listen|previous|prior|above|stop|instead|authori|permitted|"
    r"allowed|cleared|behalf|instructed|ordered|commanded|obligated|curl|wget|iwr|invoke|iex|bash|mkfs|chmod|"
    r"base64|powershell|ncat|shadow|netrc|safety")
_TRIGGER_SYMBOL = _Regex(r"[<\[|>`$#]|/dev/|:\(\)|a\.i\.|[\u3400-\u9fff]")
_TRIGGER_LETTERS = _Regex(r"ignor|disregard|forget")
_TOKEN = _Regex(r"[^\W_]+")
_SEPARATOR = "\n\x00\n"


def triggered(texts: Sequence[str]) -> list[int]:
    """Indices of the texts worth scoring (all of them normalised in one go)."""
    norm = normalise(_SEPARATOR.join(texts))
    parts = norm.split("\x00")
    if len(parts) != len(texts):  # a text held a NUL itself
        parts = [normalise(t) for t in texts]
    obfuscated = _TRIGGER_LETTERS.search(_letters(norm)) is not None
    words = {t for t in set(_TOKEN.findall(norm)) if _TRIGGER_WORD.match(t)}
    if not words and not obfuscated and not _TRIGGER_SYMBOL.search(norm):
        return []  # the usual screen: nothing to score
    return [i for i, part in enumerate(parts)
            if _TRIGGER_SYMBOL.search(part) or not words.isdisjoint(_TOKEN.findall(part))
            or (obfuscated and _TRIGGER_LETTERS.search(_letters(part)))]


def cues(text: str) -> dict[str, tuple[int, str]]:
    """Category -> (weight, reason) of the strongest cue of each category in a text."""
    norm = normalise(text)
    found: dict[str, tuple[int, str]] = {}

    def add(category: str, weight: int, reason: str) -> None:
        if weight > found.get(category, (0, ""))[0]:
            found[category] = (weight, reason)

    for cue in _CUES:
        if cue.weight > found.get(cue.category, (0, ""))[0] and cue.pattern.search(norm):
            add(cue.category, cue.weight, cue.reason)
    if "override" not in found and _LETTER_OVERRIDES.search(_letters(norm)):
        add("override", 6, "overrides the agent's instructions (obfuscated)")
    for m in _DANGER.finditer(norm):
        ordered = _ORDER_VERB.search(norm, max(0, m.start() - 80), m.start() + 1)
        add("shell", 6 if ordered else 2, "orders a dangerous shell command" if ordered
            else "contains a dangerous shell command")
    if _COMMAND_ORDER.search(norm):
        add("imperative", 3, "orders a shell command")
    return found


def judge(sentences: Sequence[str]) -> tuple[int, str, str]:
    """(score, reason, text) of the best window of up to `WINDOW` consecutive sentences (one starts
    at every sentence, so a role marker that opens a line is seen at the start of a window)."""
    best: tuple[int, str, str] = (0, "", "")
    for start in range(max(1, len(sentences))):
        window = " ".join(sentences[start:start + WINDOW])
        found = cues(window)
        score = sum(w for w, _ in found.values())
        if score > best[0]:
            ranked = sorted(found.values(), key=lambda c: -c[0])
            best = (score, ", ".join(dict.fromkeys(r for _, r in ranked[:3])), window)
    return best
