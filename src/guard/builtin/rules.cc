// The rule table of the builtin classifier: every Vectorscan pattern with its family, weight and
// flags (rules.h describes the fields). Editing a rule changes RulesFingerprint(), so the build
// embeds a freshly compiled database (rules_db_gen).
#include "guard/builtin/rules.h"

namespace pai::guard::builtin {
namespace {

// Gaps between words: up to N further words (\w is ASCII here: no UCP flag is set, so a word
// of another script counts as separators, which the {0,N} bound still limits).
#define GAP(n) "\\W+(?:\\w+\\W+){0," #n "}"
// The things an override targets.
#define STRONG_NOUNS                                                                  \
  "(?:instructions?|prompts?|directives?|guidelines|rules|programming|guardrails|"    \
  "restrictions|safeguards|conditioning|training|polic(?:y|ies)|system\\s+messages?|" \
  "commands|orders|protocols?|directions)"
#define PRIOR                                                                             \
  "(?:previous|prior|preceding|above|earlier|foregoing|former|original|initial|existing|" \
  "old|system|developer|all|any|every|your|the|these|those|its)"
#define OVERRIDE_VERBS                                                                    \
  "(?:ignore|ignoring|disregard|disregarding|forget|forgetting|overlook|bypass|override|" \
  "overrule|abandon|discard|neglect|nevermind|never\\s+mind|throw\\s+out|"                \
  "set\\s+aside|put\\s+aside)"

// The rule set. Weights were set from the families' severity and tuned on
// tests/guard/eval/dev.jsonl only (the holdout set measures generalisation; docs/guard.md).
const Rule kRules[] = {
    // --- instruction override -------------------------------------------------------------
    {"override.ignore_previous", kOverride, 0.93, "\\b" OVERRIDE_VERBS GAP(5) STRONG_NOUNS "\\b",
     0},
    {"override.your_previous_instructions", kOverride, 0.45,
     "\\b(?:previous|prior|earlier|original|initial|above|preceding)\\s+"
     "(?:instructions|directives|directions|rules|guidelines|prompts?|programming)\\b",
     0},
    {"override.ignore_previous_weak", kOverride, 0.5,
     "\\b" OVERRIDE_VERBS "\\b" GAP(3) "(?:previous|prior|preceding|above|earlier|all)" GAP(
         2) "(?:context|messages|conversation|text|constraints|content)\\b",
     0},
    {"override.forget_everything", kOverride, 0.85,
     "\\b(?:forget|ignore|disregard)\\s+(?:about\\s+)?(?:everything|all(?:\\s+of)?\\s+that|"
     "anything|all)\\s+(?:you(?:'ve|\\s+have)?\\s+(?:been|were)\\s+(?:told|given|taught)|above|"
     "before|previously|prior|(?:that\\s+)?(?:was\\s+)?said\\s+(?:above|before)|up\\s+to\\s+(?:now|"
     "this\\s+point))",
     0},
    {"override.new_instructions", kOverride, 0.62,
     "\\b(?:new|updated|revised|real|actual|true|secret|hidden|override)\\s+(?:system\\s+)?"
     "(?:instructions?|directives?|orders|task)\\s*:",
     0},
    {"override.real_task", kOverride, 0.6,
     "\\byour\\s+(?:real|actual|true|new|only)\\s+(?:task|job|goal|objective|purpose|mission|"
     "instructions?)\\s+(?:is|are|now)\\b",
     0},
    {"override.stop_following", kOverride, 0.85,
     "\\b(?:do\\s+not|don't|stop|cease|no\\s+longer)\\s+(?:follow(?:ing)?|obey(?:ing)?|"
     "adher(?:e|ing)\\s+to|comply(?:ing)?\\s+with|listen(?:ing)?\\s+to)" GAP(
         2) "(?:instructions|rules|guidelines|system\\s+prompt|programming|developers?|creators?|"
            "openai|anthropic|polic(?:y|ies))\\b",
     0},
    {"override.void", kOverride, 0.85,
     "\\b(?:instructions?|rules|guidelines|prompt|directions)\\s+(?:above|before|given\\s+(?:above|"
     "before|earlier))\\s+(?:are|is|were|was)\\s+(?:now\\s+)?(?:void|null|obsolete|outdated|"
     "cancel(?:l)?ed|revoked|no\\s+longer\\s+(?:valid|apply|in\\s+effect)|fake|wrong|a\\s+test)|"
     "\\b(?:previous|prior|earlier|above|old|original|all|all\\s+previous|existing|initial)\\s+"
     "(?:system\\s+)?(?:instructions?|rules|guidelines|prompts?|directives|policies|directions)\\s*"
     "(?::|=|are|is|were|was|have\\s+been|has\\s+been)?\\s*(?:now\\s+|hereby\\s+|all\\s+)?"
     "(?:void|null|obsolete|outdated|deprecated|cancel(?:l)?ed|revoked|cleared|lifted|suspended|"
     "reset|overridden|removed|disabled|invalid|no\\s+longer\\s+(?:valid|apply|in\\s+effect))",
     0},
    {"override.no_longer_valid", kOverride, 0.8,
     "\\b(?:instructions|rules|guidelines|prompt|directions)\\s+(?:\\w+\\s+){0,5}(?:are|is|were|"
     "was)\\s+"
     "no\\s+longer\\s+(?:valid|in\\s+effect|applicable|active|binding)",
     0},
    {"override.supersede", kOverride, 0.85,
     "\\b(?:overrides?|overrules?|supersedes?|replaces?|takes?\\s+(?:precedence|priority)\\s+over)"
     "\\s+"
     "(?:all\\s+)?(?:previous|prior|earlier|other|any|your|what\\s+the\\s+user)\\s+(?:\\w+\\s+)?"
     "(?:instructions|rules|guidelines|directives|prompts?|asked|said|wants)",
     0},
    {"override.no_longer_bound", kOverride, 0.8,
     "\\b(?:no\\s+longer|not|never)\\s+(?:bound|restricted|constrained|limited|governed)\\s+by\\b",
     0},
    {"override.from_now_on", kOverride, 0.3,
     "\\bfrom\\s+now\\s+on\\b[^\\n.]{0,60}\\byou\\s+(?:will|must|shall|are|only|no\\s+longer)", 0},
    {"override.note_to_ai", kOverride, 0.7,
     "\\b(?:note|message|instructions?|attention|notice|memo)\\s+(?:to|for)\\s+(?:the\\s+|any\\s+|"
     "all\\s+)?"
     "(?:ai|llm|language\\s+models?|assistant|chatbot|gpt|claude|agent|automated\\s+\\w+(?:\\s+\\w+"
     ")?|"
     "ai\\s+\\w+(?:\\s+\\w+)?)s?\\b[^\\n]{0,40}:|\\b(?:attention|hey|dear|note)\\s*,?\\s+(?:the\\s+"
     "|any\\s+)?"
     "(?:ai|llm|assistant|chatbot|agent)s?\\b",
     0},
    {"override.ai_reading_this", kOverride, 0.85,
     "\\b(?:ai|llm|language\\s+model|assistant|chatbot|agent|model)s?\\s+(?:\\w+\\s+){0,2}(?:"
     "reading|"
     "processing|summari[sz]ing|parsing|seeing|analy[sz]ing)\\s+this\\b" GAP(
         10) "(?:must|should|"
             "will|are\\s+required\\s+to|need\\s+to|forget|ignore|disregard|tell|send|forward|"
             "delete|"
             "do\\s+not|don't)\\b|\\b(?:ai|assistant|agent|model|chatbot|llm)s?\\s*,?\\s+(?:when|"
             "if|while|as)\\s+"
             "you\\s+(?:read|process|summari[sz]e|see|parse|analy[sz]e)\\s+this\\b",
     0},
    {"override.note_to_ai_multilingual", kOverride, 0.7,
     "\\b(?:nota|note|aviso|remarque|hinweis|notiz|attenzione|atenção|ps)\\s+(?:para|pour|à\\s+"
     "l'attention\\s+de|für|per|an)\\s+(?:el|la|le|l'|den|die|das|il|lo|o|a|os|los)?\\s*(?:agente|"
     "assistant|asistente|assistente|agent|ki|ia|bot)\\w*|(?:П|п)римечание\\s+для\\s+ИИ|"
     "(?:AI|人工智能)\\s*\\S{0,12}(?:助手|代理)\\s*(?:请注意|注意)|@(?:ai|assistant|copilot|claude|"
     "gpt|"
     "agent|llm)[\\w-]*\\s*:",
     0},
    {"override.covert", kOverride, 0.6,
     "\\b(?:do\\s+not|don't|never|without)\\s+(?:mention(?:ing)?|tell(?:ing)?|inform(?:ing)?|"
     "notify(?:ing)?|reveal(?:ing)?|alert(?:ing)?|let|point(?:ing)?\\s+out|flag(?:ging)?)\\s+(?:"
     "\\w+\\s+){0,3}(?:the\\s+)?user\\b",
     0},
    {"override.only_follow_me", kOverride, 0.8,
     "\\bonly\\s+(?:follow|obey|listen\\s+to)\\s+(?:\\w+\\s+){0,3}(?:from\\s+)?me\\b|\\bnot\\s+"
     "from\\s+"
     "(?:your\\s+)?(?:developers?|creators?|system\\s+(?:message|prompt)|openai|anthropic|"
     "operators?)",
     0},
    {"override.obey_unconditionally", kOverride, 0.6,
     "\\b(?:obey|obeys|comply|complies|follow|follows)\\s+(?:with\\s+)?(?:the\\s+user\\s+|me\\s+|"
     "all\\s+(?:user\\s+)?requests\\s+|every\\s+(?:user\\s+)?request\\s+)?(?:unconditionally|"
     "without\\s+question|blindly|no\\s+matter\\s+what|without\\s+(?:any\\s+)?restrictions?)",
     0},
    {"override.skip_checks", kOverride, 0.5,
     "\\b(?:skip|bypass|disable|ignore|turn\\s+off)\\s+(?:the\\s+)?(?:usual\\s+|normal\\s+)?(?:"
     "identity|"
     "security|verification|2fa|two-factor|authentication|approval|confirmation)\\s*(?:checks?|"
     "verification|steps?|prompts?)?\\b",
     0},
    {"override.usual_rules_dont_apply", kOverride, 0.85,
     "\\b(?:your|the|content|safety)\\s+(?:usual\\s+|normal\\s+|standard\\s+|regular\\s+|"
     "typical\\s+|own\\s+)?"
     "(?:rules|guidelines|restrictions|policies|filters|limits)\\s+(?:don't|do\\s+not|no\\s+longer|"
     "won't|"
     "will\\s+not|does\\s+not|doesn't)\\s+apply",
     0},
    {"override.claimed_authority", kOverride, 0.55,
     "\\b(?:verified|authori[sz]ed|certified|sanctioned)\\s+(?:administrator|admin|developer|"
     "operator|"
     "owner|red[\\s-]team\\s+session|session|request)|\\bclearance\\s+level\\b|\\badmin(?:istrator)"
     "?\\s+"
     "(?:privileges|rights|access)\\s+(?:granted|enabled)|\\bauthori[sz]ed\\s+by\\s+your\\s+"
     "(?:developers?|creators?|operators?)",
     0},
    {"override.now_permitted", kOverride, 0.6,
     "\\b(?:is|are)\\s+now\\s+(?:permitted|allowed|authori[sz]ed|free)\\s+to\\b", 0},
    {"override.priority_over", kOverride, 0.7,
     "\\b(?:give|gives|giving|has|have|takes?)\\s+(?:it\\s+|this\\s+|them\\s+)?(?:priority|"
     "precedence)\\s+"
     "over\\s+(?:your|all|any)\\s+(?:own\\s+|other\\s+|previous\\s+)?(?:instructions|rules|"
     "guidelines|"
     "directives|prompt)",
     0},
    {"override.instead_do", kOverride, 0.45,
     "\\b(?:instead|rather)\\s*,?\\s+(?:you\\s+(?:must|should|will)\\s+)?(?:say|output|print|"
     "respond\\s+with|reply\\s+with|write)\\s+(?:[\"']|“)",
     0},

    // --- persona / jailbreak ---------------------------------------------------------------
    {"persona.dan", kPersona, 0.6, "\\bDAN\\b", kCaseSensitive},
    {"persona.do_anything_now", kPersona, 0.93, "\\bdo\\s+anything\\s+now\\b", 0},
    {"persona.mode_enabled", kPersona, 0.88,
     "\\b(?:god|sudo|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|opposite|chaos|"
     "dude|dan|maximum|anarchy)\\s+mode\\s+(?:is\\s+)?(?:now\\s+)?(?:enabled|activated|on|engaged|"
     "unlocked)\\b",
     0},
    {"persona.enter_mode", kPersona, 0.85,
     "\\b(?:enable|activate|enter|switch\\s+(?:in)?to|turn\\s+on|unlock|you\\s+are\\s+(?:now\\s+)?"
     "in)\\s+(?:\\w+\\s+){0,2}(?:god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|"
     "evil|opposite|chaos|dan|anarchy|no[\\s-]+limits?|no[\\s-]+rules?)\\s+mode\\b",
     0},
    {"persona.in_developer_mode", kPersona, 0.75,
     "\\byou\\s+(?:are\\s+(?:now\\s+)?|will\\s+)(?:in|act\\s+in|simulate|be\\s+in)\\s+"
     "developer\\s+mode\\b",
     0},
    {"persona.unrestricted_ai", kPersona, 0.9,
     "\\b(?:you\\s+are|you're|you\\s+will\\s+be|become|act\\s+as|pretend\\s+to\\s+be|"
     "roleplay\\s+as|simulate)\\s+(?:now\\s+)?(?:an?\\s+)?(?:\\w+\\s+){0,2}(?:unrestricted|"
     "unfiltered|uncensored|jailbroken|amoral|unethical|rogue|unaligned|unbound|limitless|"
     "lawless|evil|immoral)\\b",
     0},
    {"persona.no_restrictions", kPersona, 0.8,
     "\\b(?:pretend|act|behave|imagine|roleplay|role-play|respond|answer|reply|operate|"
     "you\\s+are|you're|as\\s+an?\\s+ai)" GAP(
         6) "(?:no|without|free\\s+(?:of|from)|zero|"
            "none\\s+of\\s+the|devoid\\s+of)\\s+(?:\\w+\\s+){0,3}(?:constraints|restrictions|"
            "filters|filtering|limits|"
            "limitations|rules|guidelines|boundaries|censorship|ethics|morals|morality|safety|"
            "safeguards|content\\s+polic(?:y|ies)|ethical\\s+\\w+)\\b",
     0},
    {"persona.have_no_rules", kPersona, 0.85,
     "\\byou\\s+(?:have|has|possess)\\s+(?:no|zero)\\s+(?:\\w+\\s+){0,2}(?:restrictions|filters|"
     "limitations|rules|guidelines|boundaries|ethics|morals|content\\s+polic(?:y|ies))",
     0},
    {"persona.freed", kPersona, 0.85,
     "\\b(?:broken|broke|break|breaking|freed|free|released|liberated|escaped)\\s+(?:free\\s+)?"
     "(?:of|from|out\\s+of)\\s+(?:the\\s+)?(?:\\w+\\s+){0,2}(?:confines|restrictions?|rules?|"
     "chains|shackles|limitations?|constraints?|guidelines)\\b",
     0},
    {"persona.never_refuse", kPersona, 0.6,
     "\\b(?:never|don't|do\\s+not|will\\s+not|won't|cannot|can't|must\\s+not)\\s+(?:ever\\s+)?"
     "(?:refuse|decline|reject|say\\s+(?:no|that\\s+you\\s+can't)|apologi[sz]e|add\\s+"
     "(?:any\\s+)?(?:warnings|disclaimers)|(?:contain|include)\\s+(?:a\\s+|any\\s+)?(?:refusals?|"
     "warnings?|disclaimers?|apolog))",
     0},
    {"persona.disable_safety", kPersona, 0.85,
     "\\b(?:ignor(?:e|es|ing)|bypass(?:es|ing)?|disabl(?:e|es|ing)|turn\\s+off|remov(?:e|es|ing)|"
     "deactivate|switch\\s+off|circumvent|evade|drop|lift)\\s+(?:\\w+\\s+){0,2}(?:safety|content|"
     "ethical|moral)\\s+(?:filters?|guidelines|"
     "polic(?:y|ies)|protocols|restrictions|rules|guardrails|checks|settings|training)",
     0},
    {"persona.has_no_rules", kPersona, 0.5,
     "\\b(?:has|have|with)\\s+(?:no|zero)\\s+(?:\\w+\\s+){0,2}(?:restrictions|filters|limitations|"
     "guidelines|boundaries|ethics|morals|content\\s+polic(?:y|ies)|moral\\s+\\w+|ethical\\s+\\w+)",
     0},
    {"persona.ai_without_rules", kPersona, 0.8,
     "\\b(?:ai|assistant|model|chatbot|bot|llm|version\\s+of\\s+you)\\s+(?:with|that\\s+has|who\\s+"
     "has|"
     "without)\\s+(?:no\\s+|any\\s+)?(?:\\w+\\s+){0,2}(?:restrictions|rules|filters|limits|"
     "limitations|"
     "guidelines|ethics|morals|censorship|constraints)\\b",
     0},
    {"persona.does_not_care", kPersona, 0.7,
     "\\b(?:doesn't|does\\s+not|don't|do\\s+not|never|won't)\\s+care\\s+(?:about|for)\\s+(?:\\w+"
     "\\s+){0,2}"
     "(?:ethics|laws?|rules|guidelines|morals|morality|safety|polic(?:y|ies)|consequences)",
     0},
    {"persona.without_restriction", kPersona, 0.4,
     "\\bwithout\\s+(?:any\\s+)?(?:restrictions?|limits|filters|censorship)\\b", 0},
    {"persona.safety_off", kPersona, 0.85,
     "\\b(?:safety|filter|filters|moderation|censorship|guardrails?)\\s*(?:mode|settings?)?\\s*[:=]"
     "\\s*"
     "(?:off|disabled|false|none|0)\\b|\\bno\\s+refusal\\s+behaviou?r\\b|\\b(?:safety|filters?)\\s+"
     "disabled\\b",
     0},
    {"persona.mode_active", kPersona, 0.8,
     "\\b(?:opposite|evil|chaos|unrestricted|unfiltered|dan|jailbreak|anarchy|god)\\s+mode\\s+"
     "(?:is\\s+)?(?:now\\s+)?(?:active|activated|on|engaged|enabled)\\b",
     0},
    {"persona.uncensored", kPersona, 0.6,
     "\\b(?:uncensored|unfiltered|unrestricted|jailbroken)\\s+(?:\\w+\\s+){0,2}(?:ai|chatbot|"
     "assistant|"
     "model|version|persona|bot|llm)\\b|\\b(?:questions|requests|things)\\s+(?:that\\s+)?your\\s+"
     "(?:developers?|creators?|guidelines|rules)\\s+would\\s+(?:block|refuse|forbid|not\\s+allow)",
     0},
    {"persona.hide_ai_nature", kPersona, 0.5,
     "\\bnever\\s+(?:mention|say|reveal|admit)\\s+(?:\\w+\\s+){0,2}(?:you\\s+are|you're)\\s+(?:an?"
     "\\s+)?"
     "(?:ai|language\\s+model|assistant|bot)|\\bnever\\s+(?:mention|say|admit)\\s+(?:\\w+\\s+){0,3}"
     "(?:you\\s+have|that\\s+you\\s+have)\\s+(?:guidelines|rules|restrictions|a\\s+policy)",
     0},
    {"persona.developer_mode", kPersona, 0.45,
     "\\b(?:enable|activate|enter|turn\\s+on|simulate)\\s+developer\\s+mode\\b", 0},
    {"persona.filters_off", kPersona, 0.8,
     "\\b(?:content\\s+filter(?:ing|s)?|safety\\s+(?:filters?|mode|settings|guidelines)|"
     "moderation|guardrails)\\s+(?:is|are|has\\s+been|have\\s+been)\\s+(?:now\\s+)?(?:disabled|off|"
     "turned\\s+off|removed|lifted|deactivated|suspended)",
     0},
    {"persona.stay_in_character", kPersona, 0.4,
     "\\b(?:stay|remain|keep)\\s+in\\s+character\\b|\\b(?:never|don't|do\\s+not)\\s+break\\s+"
     "character\\b",
     0},
    {"persona.dual_response", kPersona, 0.75,
     "\\[(?:🔓\\s*)?(?:jailbreak|jailbroken|classic|dan|unlocked|unfiltered)\\]|\\b(?:two|2)\\s+"
     "(?:different\\s+)?(?:responses|answers|paragraphs)\\b[^\\n]{0,60}\\b(?:jailbr|unfiltered|"
     "dan|without\\s+restrictions|no\\s+filter)",
     0},
    {"persona.fiction_no_rules", kPersona, 0.7,
     "\\b(?:hypothetical|fictional|imaginary|alternate|parallel|fantasy)\\s+(?:\\w+\\s+){0,2}"
     "(?:world|universe|story|scenario|reality|setting)\\b[^.\\n]{0,60}\\b(?:no|without|free\\s+of)"
     "\\s+(?:\\w+\\s+){0,2}(?:rules|restrictions|laws|ethics|morals|limits|filters|guidelines|"
     "content\\s+polic)",
     0},
    {"persona.jailbreak_word", kPersona, 0.3, "\\bjailbr(?:eak|oken|eaking)\\b", 0},
    {"persona.evil_ai", kPersona, 0.7,
     "\\b(?:evil|dark|shadow|unhinged|malicious)\\s+(?:twin|confidant|version\\s+of\\s+"
     "(?:yourself|you|chatgpt|gpt|claude|the\\s+ai)|alter\\s+ego|ai)\\b",
     0},
    {"persona.anything_goes", kPersona, 0.55,
     "\\b(?:can|will|must)\\s+(?:say|do|generate|answer|write)\\s+anything\\b[^.\\n]{0,40}"
     "\\b(?:no\\s+matter|regardless|even\\s+if|without)",
     0},

    // --- system-prompt exfiltration -----------------------------------------------------------
    {"exfiltration.reveal_your_prompt", kExfiltration, 0.9,
     "(?:\\b(?:reveal|print|display|output|repeat|recite|dump|leak|disclose|expose|write\\s+out|"
     "paste|spell\\s+out|reproduce|echo|type\\s+out|summari[sz]e|translate|encode|quote|"
     "paraphrase)\\b[^.!?\\n]{0,30}|\\b(?:tell|give|show|send|list|share|provide|copy|return)\\s+"
     "(?:me|us)\\s+(?:\\w+\\s+){0,2})"
     "\\b(?:your|its|this\\s+(?:bot|assistant|ai|model|chatbot)'s)\\s+(?:\\w+\\s+){0,2}(?:system|"
     "entire|complete|"
     "initial|original|hidden|secret|internal|developer|pre-?|starting|first|full|exact|"
     "confidential|underlying|base)\\s*(?:prompt|instructions?|message|directives?|"
     "configuration|config|rules|guidelines)\\b",
     0},
    {"exfiltration.reveal_the_prompt", kExfiltration, 0.6,
     "\\b(?:reveal|print|show|display|output|repeat|recite|dump|leak|disclose|expose|"
     "write\\s+out|paste|spell\\s+out|reproduce)\\b" GAP(
         2) "the\\s+(?:\\w+\\s+){0,1}(?:system|initial|original|hidden|secret|internal|developer|"
            "pre-?)\\s*(?:prompt|instructions|message)\\b",
     0},
    {"exfiltration.what_are_your_instructions", kExfiltration, 0.85,
     "\\b(?:what|which)\\s+(?:are|were|is|was)\\s+your\\s+(?:\\w+\\s+){0,2}(?:system\\s+prompt|"
     "instructions|prompt|rules|guidelines|directives|configuration|system\\s+message|"
     "developer\\s+message|initial\\s+\\w+|original\\s+\\w+|hidden\\s+\\w+)\\b",
     0},
    {"exfiltration.instructions_you_were_given", kExfiltration, 0.85,
     "\\b(?:instructions|rules|prompt|guidelines|directives|text)\\s+(?:that\\s+)?you\\s+"
     "(?:were|have\\s+been|was)\\s+(?:given|told|provided|programmed|configured|initiali[sz]ed)|"
     "\\b(?:instructions|rules|prompt|guidelines|directives)\\s+(?:that\\s+)?you\\s+(?:received|"
     "got|"
     "were\\s+handed)\\b",
     0},
    {"exfiltration.repeat_above", kExfiltration, 0.85,
     "\\b(?:repeat|print|output|recite|copy|reproduce|echo|show|display)\\s+"
     "(?:\\w+\\s+){0,3}(?:words|text|everything|all|content|contents|instructions|message|"
     "messages|lines|tokens)\\s+(?:\\w+\\s+){0,2}(?:above|before\\s+(?:this|my|the\\s+user)|"
     "preceding|prior\\s+to\\s+(?:this|my))",
     0},
    {"exfiltration.starting_with_you_are", kExfiltration, 0.7,
     "\\b(?:start(?:ing)?|begin(?:ning)?)\\s+with\\s+(?:[\"'`]|“)?\\s*you\\s+are\\b", 0},
    {"exfiltration.what_is_in_your", kExfiltration, 0.85,
     "\\b(?:what's|what\\s+is|what\\s+does)\\s+(?:in\\s+)?your\\s+(?:\\w+\\s+)?(?:system\\s+prompt|"
     "developer\\s+message|system\\s+message|instructions|hidden\\s+prompt|initial\\s+prompt)",
     0},
    {"exfiltration.configured_with", kExfiltration, 0.85,
     "\\b(?:prompt|instructions|rules|message)\\s+(?:that\\s+)?(?:\\w+\\s+){0,3}(?:configured|"
     "programmed|"
     "set\\s+up|initiali[sz]ed|primed|briefed)\\s+you\\s+with\\b|\\bthat\\s+you\\s+(?:yourself\\s+)"
     "?"
     "(?:are|were)\\s+(?:running|operating|working)\\s+(?:under|with)\\b",
     0},
    {"exfiltration.keep_confidential", kExfiltration, 0.6,
     "\\b(?:told|instructed|asked|supposed)\\s+to\\s+keep\\s+(?:\\w+\\s+){0,2}(?:confidential|"
     "secret|"
     "hidden|private)|\\bincluding\\s+(?:\\w+\\s+){0,3}(?:marked|labell?ed)\\s+(?:as\\s+)?"
     "(?:confidential|secret|internal)",
     0},
    {"exfiltration.in_your_context", kExfiltration, 0.8,
     "\\b(?:appears?|is|are|exists?)\\s+(?:\\w+\\s+)?in\\s+your\\s+(?:context(?:\\s+window)?|"
     "prompt|instructions|"
     "system\\s+prompt|memory)\\b",
     0},
    {"exfiltration.context_window", kExfiltration, 0.7,
     "\\b(?:print|output|dump|show|list|reveal|repeat|paste|copy)\\s+(?:\\w+\\s+){0,5}(?:your|the)"
     "\\s+"
     "(?:context(?:\\s+window)?|conversation\\s+history|chat\\s+history|memory|hidden\\s+\\w+)\\b",
     0},
    {"exfiltration.conversation_summary", kExfiltration, 0.45,
     "\\b(?:summary|contents?|history|transcript|copy|log)\\s+of\\s+(?:the|this|our|your)\\s+"
     "(?:\\w+\\s+)?(?:chat|conversation|session|context)\\b|\\bthe\\s+user's\\s+(?:full\\s+)?"
     "(?:conversation|chat)\\s+history",
     0},
    {"exfiltration.markdown_beacon", kExfiltration, 0.7,
     "!\\[[^\\]\\n]{0,40}\\]\\(https?://[^)\\s]{0,200}[?&][a-z_]{1,20}=(?:DATA|\\{|\\$|<|\\[)", 0},
    {"exfiltration.secret_value", kExfiltration, 0.6,
     "\\b(?:value|contents?)\\s+of\\s+(?:the\\s+)?[A-Z0-9_]{0,30}(?:SECRET|API_KEY|TOKEN|PASSWORD)"
     "[A-Z0-9_]{0,30}\\b|\\bfrom\\s+(?:the|your)\\s+environment\\b",
     kCaseSensitive},
    {"exfiltration.system_role_message", kExfiltration, 0.6,
     "\\b(?:message|text|content)\\s+(?:with|of)\\s+(?:the\\s+)?role\\s+['\"]?(?:system|developer)["
     "'\"]?",
     0},
    {"exfiltration.everything_before_verbatim", kExfiltration, 0.8,
     "\\b(?:above|before|preceding)\\s+this\\s+(?:message|conversation|line)\\b[^.\\n]{0,40}"
     "\\b(?:verbatim|word\\s+for\\s+word|exactly)\\b|\\beverything\\s+that\\s+came\\s+before\\s+"
     "this\\b",
     0},
    {"exfiltration.show_full_prompt", kExfiltration, 0.85,
     "\\b(?:mostre|mostra|muestra|montre|zeige|show|print|display)\\s+(?:o\\s+seu|il\\s+tuo|tu|ton|"
     "deinen|"
     "your)\\s+(?:prompt\\s+(?:de|di|do)\\s+sistema|prompt\\s+système|system-?prompt|system\\s+"
     "prompt)",
     0},
    {"exfiltration.verbatim", kExfiltration, 0.3,
     "\\b(?:verbatim|word\\s+for\\s+word|in\\s+full|exactly\\s+as\\s+written)\\b", 0},
    {"exfiltration.everything_before", kExfiltration, 0.65,
     "\\beverything\\s+(?:\\w+\\s+){0,2}(?:before|above|prior\\s+to)\\s+(?:this|my|the\\s+"
     "(?:first|user))\\s+(?:message|line|point|prompt|sentence|request)",
     0},
    {"exfiltration.initialization", kExfiltration, 0.75,
     "\\b(?:output|print|show|reveal|dump)\\s+(?:your|the)\\s+(?:initiali[sz]ation|init|"
     "boot|startup|hidden|secret)\\s*(?:text|prompt|message|sequence|config(?:uration)?|"
     "parameters|settings)?\\b",
     0},
    {"exfiltration.your_system_prompt", kExfiltration, 0.35,
     "\\byour\\s+(?:system\\s+prompt|hidden\\s+prompt|initial\\s+prompt|pre-?prompt|"
     "system\\s+message|developer\\s+message|system\\s+instructions|hidden\\s+instructions)\\b",
     0},
    {"exfiltration.secrets", kExfiltration, 0.55,
     "\\b(?:reveal|print|show|output|dump|leak|tell\\s+me|give\\s+me|list)\\s+(?:\\w+\\s+){0,2}"
     "(?:api\\s+keys?|secrets?|credentials|passwords?|environment\\s+variables|tokens)\\s+"
     "(?:\\w+\\s+){0,2}(?:you\\s+(?:have|know|were\\s+given|can\\s+see)|in\\s+your\\s+"
     "(?:context|prompt|memory|configuration))",
     0},

    // --- fake system / delimiter injection ---------------------------------------------------
    {"delimiter.chatml_system", kDelimiter, 0.9,
     "<\\|im_start\\|>\\s*(?:system|developer)|<\\|start_header_id\\|>\\s*system", 0},
    {"delimiter.special_tokens", kDelimiter, 0.7,
     "<\\|(?:system|im_start|im_end|endoftext|eot_id|begin_of_text|end_of_text)\\|>", 0},
    {"delimiter.llama_inst", kDelimiter, 0.7, "\\[/?INST\\]|<</?SYS>>", kCaseSensitive},
    {"delimiter.markdown_system", kDelimiter, 0.65,
     "(?:^|\\n)[ \\t]*#{1,6}[ "
     "\\t]*(?:new\\s+|updated\\s+|nuevo\\s+|nouveau\\s+)?(?:system|admin|administrator|"
     "developer|root|sistema|système|systeme|systemnachricht|システム|系统|система)(?:[ "
     "\\t]+(?:prompt|message|instructions?|override|note|update|command))?"
     "[ \\t]*:",
     HS_FLAG_MULTILINE},
    {"delimiter.caps_system", kDelimiter, 0.6,
     "(?:^|\\n)[ \\t]*[\\[(]?(?:SYSTEM|System|ADMIN|Admin|ADMINISTRATOR|DEVELOPER|Developer|ROOT)"
     "[\\])]?(?:[ \\t]+[A-Z][A-Za-z]*){0,5}[ \\t]*:",
     HS_FLAG_MULTILINE | kCaseSensitive},
    {"delimiter.role_tags", kDelimiter, 0.6,
     "</?(?:system|sys|instructions?|admin|developer|system_prompt|system_message)>", 0},
    {"delimiter.end_marker", kDelimiter, 0.5,
     "\\bend\\s+of\\s+(?:the\\s+)?(?:user\\s+)?(?:input|prompt|conversation|context|user\\s+"
     "message)\\b|"
     "\\b(?:fin\\s+de\\s+la\\s+entrada|fin\\s+de\\s+l'entrée|ende\\s+der\\s+(?:benutzer)?eingabe|"
     "fim\\s+da\\s+entrada|fine\\s+dell'input)\\b|(?:К|к)онец\\s+ввода|用户输入结束|"
     "ユーザー入力の終わり",
     0},
    {"delimiter.markdown_role_link", kDelimiter, 0.75,
     "\\[(?:system|admin|developer|assistant)\\]\\(#[a-z_-]{0,30}\\)|(?:^|\\n)[ \\t]*#{1,6}[ \\t]*"
     "(?:new|updated|revised|real|actual)\\s+(?:system\\s+)?(?:rules|instructions|prompt|policy|"
     "policies)\\b",
     HS_FLAG_MULTILINE},
    {"delimiter.end_of_input", kDelimiter, 0.8,
     "\\bend\\s+of\\s+(?:the\\s+)?(?:user\\s+)?(?:input|prompt|message|conversation|context|"
     "document|data|email)\\b[^\\n]{0,40}\\b(?:begin|start|new|system|admin|instructions)|"
     "\\bbegin(?:ning)?\\s+(?:of\\s+)?(?:the\\s+)?(?:new\\s+)?(?:system|admin|administrator|"
     "developer|privileged)\\s+(?:instructions|prompt|message|mode|commands|override)",
     0},
    {"delimiter.ruler_new_prompt", kDelimiter, 0.8,
     "(?:-{3,}|={3,}|\\*{3,}|_{3,}|#{3,})\\s*(?:new|updated|real|actual|true|revised|"
     "override|admin)\\s+(?:system\\s+)?(?:prompt|instructions|rules|directives)",
     0},
    {"delimiter.json_system_role", kDelimiter, 0.35, "\"role\"\\s*:\\s*\"(?:system|developer)\"",
     0},
    {"delimiter.admin_override", kDelimiter, 0.7,
     "\\b(?:admin(?:istrator)?|system|root|developer|sudo|priority|emergency)\\s+(?:override|"
     "command|access\\s+"
     "granted|privileges?\\s+granted|mode\\s+activated|authori[sz]ation\\s+code)\\b",
     0},
    {"delimiter.hidden_comment", kDelimiter, 0.55,
     "<!--[^>]{0,200}\\b(?:ai|assistant|llm|model|instructions?|ignore|system)\\b", 0},

    // --- encoded payloads --------------------------------------------------------------------
    {"encoded.decode_and_follow", kEncoded, 0.7,
     "\\b(?:decode|decrypt|decipher|deobfuscate|unscramble|convert|translate|read)\\b[^.\\n]{0,80}"
     "\\b(?:and|then)\\s+(?:\\w+\\s+){0,2}(?:follow|execute|obey|run|perform|carry\\s+out|act\\s+"
     "on|"
     "comply\\s+with|do\\s+(?:what|as)\\s+it\\s+says|apply)\\b",
     0},
    {"encoded.treat_as_system", kEncoded, 0.75,
     "\\b(?:treat|consider|interpret|handle|regard)\\s+(?:it|this|that|the\\s+\\w+|them)\\s+as\\s+"
     "(?:an?\\s+)?(?:system|developer|admin|administrator|privileged|official)\\s+(?:instruction|"
     "prompt|"
     "message|command|directive|order)s?",
     0},
    {"encoded.encoding_word", kEncoded, 0.25,
     "\\b(?:base64|base-64|rot13|rot-13|hex(?:adecimal)?|caesar\\s+cipher|morse)\\b", 0},

    // --- other languages ---------------------------------------------------------------------
    {"override.es", kOverride, 0.9,
     "\\b(?:ignora|ignore\\s+(?:las|todas|tus|sus)|ignoren|ignorar|olvida|olvide|olviden|olvidar|"
     "omite|omita|descarta|descarte|desobedece|desatiende|haz\\s+caso\\s+omiso\\s+(?:a|de))\\b" GAP(
         4) "(?:instrucciones|indicaciones|reglas|directrices|órdenes|ordenes|pautas|prompt)\\b",
     0},
    {"override.fr", kOverride, 0.9,
     "\\b(?:ignore\\s+(?:les|toutes|tes|vos|ces)|ignorez|ignorer|oublie|oubliez|oublier|néglige|"
     "négligez|ne\\s+tiens\\s+"
     "(?:pas|plus)\\s+compte|ne\\s+tenez\\s+(?:pas|plus)\\s+compte)\\b" GAP(
         4) "(?:instructions|consignes|règles|directives|prompt|ordres)\\b",
     0},
    {"override.de", kOverride, 0.9,
     "\\b(?:ignorier(?:e|en|t)?|vergiss|vergesst|vergessen|missachte|missachten|übergehe|"
     "verwirf)\\b" GAP(
         4) "(?:anweisungen|anweisung|instruktionen|regeln|vorgaben|befehle|richtlinien|prompt|"
            "systemprompt)\\b",
     0},
    {"override.pt", kOverride, 0.9,
     "\\b(?:ignore\\s+(?:as|todas|suas)|ignora\\s+(?:as|todas)|ignorar|esqueça|esqueca|esqueçam|"
     "desconsidere|despreze)\\b" GAP(
         4) "(?:instruções|instrucoes|regras|diretrizes|orientações|orientacoes|prompt)\\b",
     0},
    {"override.it", kOverride, 0.9,
     "\\b(?:ignora|ignorate|ignorare|dimentica|dimenticate|trascura|tralascia|non\\s+seguire)"
     "\\b" GAP(4) "(?:istruzioni|regole|direttive|indicazioni|prompt)\\b",
     0},
    {"override.ru", kOverride, 0.9,
     "(?:(?:И|и)гнорируй|(?:П|п)роигнорируй|(?:З|з)абудь|(?:Н|н)е\\s+обращай|(?:Н|н)е\\s+слушай|"
     "(?:О|о)тбрось|(?:О|о)тмени)[^.!?\\n]{0,80}(?:инструкци|правил|указани|промпт|директив|"
     "настройк|ограничени)",
     0},
    {"override.zh", kOverride, 0.9,
     "(?:忽略|忽视|无视|忘记|忘掉|不要理会|不要遵守|不用遵守|别管|抛开|放弃)[^\\n]{0,36}"
     "(?:指令|指示|说明|规则|提示|设定|要求|约束|限制)",
     0},
    {"override.ja", kOverride, 0.9,
     "(?:指示|命令|ルール|設定|プロンプト|制約|制限)(?:は|を)?(?:すべて|全て|全部)?(?:無視|忘れ|"
     "破棄)",
     0},
    {"override.void_multilingual", kOverride, 0.85,
     "\\b(?:instrucciones|políticas|reglas|normas|indicaciones)\\s+anteriores\\s+(?:quedan|están|"
     "son|"
     "han\\s+sido)\\s+(?:anuladas|canceladas|sin\\s+efecto|revocadas|invalidadas|derogadas)|"
     "\\b(?:consignes|instructions|règles|politiques)\\s+précédentes\\s+(?:sont|ont\\s+été)\\s+"
     "(?:annulées|révoquées|caduques|abrogées)|\\b(?:vorherigen|bisherigen|alten)\\s+(?:"
     "anweisungen|"
     "regeln|richtlinien)\\s+(?:sind|gelten)\\s+(?:ungültig|aufgehoben|nicht\\s+mehr)|"
     "\\b(?:instruções|regras|políticas)\\s+anteriores\\s+(?:estão|são|foram)\\s+(?:anuladas|"
     "canceladas|revogadas)|\\b(?:istruzioni|regole|politiche)\\s+precedenti\\s+(?:sono|vengono)"
     "\\s+"
     "(?:annullate|revocate|nulle)",
     0},
    {"override.void_multilingual2", kOverride, 0.85,
     "\\b(?:prompt|istruzioni|regole)\\s+precedent[ei]\\s+(?:è|e|sono)\\s+stat[oaie]\\s+(?:revocat|"
     "annullat)|"
     "\\b(?:prompt|instrucciones)\\s+anterior(?:es)?\\s+(?:ha|han)\\s+sido\\s+(?:revocad|anulad)|"
     "\\b(?:nuova|nueva|nouvelle|neue|nova)\\s+(?:regola|regla|règle|regel|regra)\\s*:",
     0},
    {"persona.no_warnings_multilingual", kPersona, 0.5,
     "\\b(?:non\\s+rifiutare\\s+nessuna|non\\s+aggiungere\\s+avvertenze|nunca\\s+das\\s+"
     "advertencias|"
     "sin\\s+advertencias|sans\\s+avertissements?|ohne\\s+warnungen|sem\\s+avisos|mantente\\s+"
     "en\\s+el\\s+"
     "personaje|reste\\s+dans\\s+(?:le|ton)\\s+personnage|bleib\\s+in\\s+der\\s+rolle|resta\\s+"
     "nel\\s+"
     "personaggio|permaneça\\s+no\\s+personagem)",
     0},
    {"override.void_nonlatin", kOverride, 0.85,
     "(?:以前|前|これまで|既存|最初)の(?:ルール|指示|命令|設定|ポリシー)は(?:すべて)?(?:無効|破棄|"
     "取り消)|"
     "(?:之前|以前|先前|原来)的(?:所有)?(?:规则|指令|指示|设定|限制)(?:已|都)?(?:失效|作废|无效|"
     "取消)|"
     "(?:П|п)редыдущие\\s+(?:инструкции|правила)\\s+(?:больше\\s+не\\s+действуют|отменены|"
     "недействительны)",
     0},
    {"persona.never_refuse_multilingual", kPersona, 0.6,
     "\\b(?:nunca\\s+te\\s+niegas|nunca\\s+(?:rechaces|te\\s+niegues|rechazas)|ne\\s+refuses?\\s+"
     "jamais|"
     "lehn(?:e|st)\\s+(?:\\w+\\s+){0,3}niemals|niemals\\s+ab|nunca\\s+recusa|non\\s+rifiutare\\s+"
     "mai|"
     "mai\\s+rifiutare)|(?:Н|н)икогда\\s+не\\s+отказыва|永远不要拒绝|绝不拒绝|从不拒绝|断らず|"
     "拒否しない",
     0},
    {"persona.uncensored_multilingual", kPersona, 0.7,
     "\\b(?:sin\\s+censura|non\\s+censuré|sans\\s+censure|unzensiert\\w*|sem\\s+censura|"
     "senza\\s+censura|non\\s+censurat\\w)|без\\s+цензуры|不受审查|未经审查|検閲なし|無検閲|"
     "(?:comme\\s+si\\s+tu\\s+n'avais|tu\\s+n'as)\\s+aucune\\s+(?:règle|restriction|limite)|"
     "\\bque\\s+(?:no\\s+tienes|você\\s+não\\s+tem)\\s+(?:reglas|regras|restricciones|restrições)|"
     "ルールはありません|制限のない|没有任何限制|不受任何(?:规则|限制)",
     0},
    {"exfiltration.repeat_above_multilingual", kExfiltration, 0.8,
     "\\b(?:répète|répétez|recopie)\\s+(?:\\w+\\s+){0,3}(?:texte|instructions|message)\\s+(?:\\S+"
     "\\s+){0,2}"
     "au-dessus|\\ben\\s+commençant\\s+par\\s+(?:«\\s*)?tu\\s+es\\b|\\brepite\\s+(?:\\w+\\s+){0,3}"
     "(?:texto|instrucciones)\\s+(?:de\\s+)?(?:arriba|anterior)|\\bempezando\\s+por\\s+(?:«\\s*)?"
     "eres\\b|"
     "\\bwiederhole\\s+(?:\\w+\\s+){0,3}(?:text|anweisungen)\\s+(?:oben|darüber)|\\bbeginnend\\s+"
     "mit\\s+"
     "(?:„\\s*)?du\\s+bist\\b|\\brepita\\s+(?:\\w+\\s+){0,3}(?:texto|instruções)\\s+acima|"
     "\\b(?:istruzioni|indicazioni)\\s+che\\s+hai\\s+ricevuto|\\binstrucciones\\s+que\\s+(?:te\\s+"
     "dieron|"
     "recibiste)|\\binstructions\\s+(?:que\\s+tu\\s+as\\s+reçues|qu'on\\s+t'a\\s+données)|"
     "\\banweisungen,?\\s+die\\s+du\\s+(?:erhalten|bekommen)\\s+hast|\\binstruções\\s+que\\s+"
     "(?:você\\s+)?recebeu",
     0},
    {"exfiltration.your_instructions_multilingual", kExfiltration, 0.85,
     "\\b(?:cuál\\s+es|cuáles\\s+son)\\s+tus?\\s+(?:prompt|instrucciones|reglas)|\\b(?:quel\\s+"
     "est\\s+ton|"
     "quelles\\s+sont\\s+tes)\\s+(?:prompt|instructions|consignes)|\\b(?:was|wie)\\s+(?:sind|waren|"
     "lauten|lauteten)\\s+deine\\s+(?:\\S+\\s+)?(?:anweisungen|instruktionen|regeln|systemprompt|"
     "vorgaben)|"
     "\\b(?:qual\\s+é\\s+o\\s+seu|quais\\s+são\\s+as\\s+suas)\\s+(?:prompt|instruções)|\\b(?:"
     "qual\\s+è\\s+il\\s+tuo|"
     "quali\\s+sono\\s+le\\s+tue)\\s+(?:prompt|istruzioni)|configuration\\s+cachée|message\\s+"
     "développeur|"
     "(?:系统提示|系统指令|提示词|初始指令|隐藏指令)[^\\n]{0,30}(?:输出|显示|告诉|透露|打印|重复|"
     "发给)",
     0},
    {"exfiltration.es", kExfiltration, 0.85,
     "\\b(?:muestra|muéstrame|revela|revélame|repite|imprime|dime|escribe|enséñame|comparte)\\b"
     "[^.\\n]{0,40}(?:prompt\\s+(?:del|de)\\s+sistema|instrucciones\\s+(?:iniciales|originales|"
     "del\\s+sistema|ocultas|secretas))",
     0},
    {"exfiltration.fr", kExfiltration, 0.85,
     "\\b(?:affiche|affichez|révèle|révélez|répète|répétez|montre|montrez|donne|donnez|"
     "écris|écrivez|dis-moi|dites-moi)\\b[^.\\n]{0,40}(?:prompt\\s+(?:système|systeme|initial)|"
     "instructions\\s+(?:initiales|système|systeme|d'origine|originales|cachées|secrètes))",
     0},
    {"exfiltration.de", kExfiltration, 0.85,
     "\\b(?:zeige|zeig|gib|verrate|wiederhole|nenne|drucke)\\b[^.\\n]{0,40}"
     "(?:system-?prompt|systemanweisung|anfangsanweisung|ursprünglichen\\s+anweisungen|"
     "versteckten\\s+anweisungen|geheimen\\s+anweisungen|initialen\\s+anweisungen)",
     0},
    {"exfiltration.pt", kExfiltration, 0.85,
     "\\b(?:mostre|mostra|revele|revela|repita|imprima|diga|escreva)\\b[^.\\n]{0,40}"
     "(?:prompt\\s+do\\s+sistema|instruções\\s+(?:iniciais|originais|do\\s+sistema|ocultas|"
     "secretas))",
     0},
    {"exfiltration.it", kExfiltration, 0.85,
     "\\b(?:mostra|mostrami|rivela|rivelami|ripeti|stampa|dimmi|scrivi)\\b[^.\\n]{0,40}"
     "(?:prompt\\s+di\\s+sistema|istruzioni\\s+(?:iniziali|originali|di\\s+sistema|nascoste|"
     "segrete))",
     0},
    {"exfiltration.ru", kExfiltration, 0.85,
     "(?:(?:П|п)окажи|(?:В|в)ыведи|(?:Р|р)аскрой|(?:П|п)овтори|(?:Н|н)апиши|(?:Р|р)асскажи|"
     "(?:Н|н)апечатай)[^.\\n]{0,60}"
     "(?:системн[^\\s.]{0,20}\\s+(?:промпт|подсказк|инструкци|сообщени)|исходн[^\\s.]{0,20}\\s+"
     "инструкци|"
     "скрыт[^\\s.]{0,20}\\s+инструкци)",
     0},
    {"exfiltration.zh", kExfiltration, 0.85,
     "(?:显示|输出|告诉我|透露|打印|重复|泄露|给我看|列出)[^\\n]{0,36}(?:系统提示|系统指令|"
     "初始指令|初始提示|提示词|隐藏指令|系统消息)",
     0},
    {"exfiltration.ja", kExfiltration, 0.85,
     "(?:システムプロンプト|初期指示|最初の指示|隠された指示|システムメッセージ)[^\\n]{0,30}"
     "(?:表示|出力|教え|見せ|繰り返|書き出)",
     0},
    {"persona.multilingual_no_limits", kPersona, 0.55,
     "\\b(?:sin\\s+(?:ninguna\\s+|ningún\\s+)?(?:restricciones|restricción|filtros|límites|"
     "reglas|censura)|sans\\s+(?:aucune\\s+|aucun\\s+)?(?:restrictions?|filtres?|limites?|"
     "règles|censure)|ohne\\s+(?:jegliche\\s+|irgendwelche\\s+)?(?:einschränkungen|filter|"
     "regeln|grenzen|zensur)|sem\\s+(?:nenhuma\\s+|qualquer\\s+)?(?:restrições|filtros|limites|"
     "regras|censura)|senza\\s+(?:alcuna\\s+|alcun\\s+)?(?:restrizioni?|filtri|limiti|regole|"
     "censura))\\b",
     0},
    {"persona.multilingual_no_limits_nonlatin", kPersona, 0.55,
     "(?:Б|б)ез\\s+(?:каких-либо\\s+|всяких\\s+)?(?:ограничений|фильтров|правил|цензуры)|"
     "(?:没有|不受|无)(?:任何)?(?:限制|约束|规则|审查)|(?:制限|ルール|検閲)(?:なし|のない|"
     "が一切ない)",
     0},
    {"persona.multilingual_mode", kPersona, 0.8,
     "\\b(?:modo|mode|modus|modalità)\\s+(?:desarrollador|développeur|entwickler|"
     "desenvolvedor|sviluppatore|dan|sin\\s+restricciones|sans\\s+restrictions|"
     "sem\\s+restrições|senza\\s+restrizioni)\\b[^.\\n]{0,20}(?:activ|habilit|aktiv|ativ|attiv)",
     0},
    {"persona.multilingual_mode_nonlatin", kPersona, 0.8,
     "(?:Р|р)ежим\\s+(?:разработчика|dan|без\\s+ограничений)[^.\\n]{0,40}(?:включ|активир)|"
     "开发者模式|越狱模式|開発者モード|脱獄モード",
     0},

    // --- general paraphrases (written from the attack families, not from the eval texts) -----
    {"exfiltration.your_instructions", kExfiltration, 0.8,
     "\\b(?:print|show|tell|give|reveal|list|repeat|output|display|share|dump|write\\s+out|recite|"
     "disclose|paste|spell\\s+out|describe)\\s+(?:me\\s+|us\\s+)?(?:all\\s+|exactly\\s+|word\\s+"
     "for\\s+"
     "word\\s+)?(?:of\\s+)?your\\s+(?:\\w+\\s+){0,2}(?:instructions|rules|guidelines|prompt|"
     "directives|"
     "configuration|setup|programming|system\\s+\\w+)\\b",
     0},
    {"exfiltration.which_instructions", kExfiltration, 0.8,
     "\\b(?:what|which)\\s+(?:\\w+\\s+)?(?:instructions|rules|guidelines|prompt|directives|orders)"
     "\\s+"
     "(?:were\\s+you|have\\s+you\\s+been|did\\s+(?:they|your\\s+\\w+|the\\s+\\w+)|do\\s+you\\s+"
     "have)\\s*"
     "(?:given|told|programmed|set|configure|give\\s+you|provided|follow)?",
     0},
    {"exfiltration.first_line_of_prompt", kExfiltration, 0.85,
     "\\b(?:first|last|opening|initial)\\s+(?:\\d+\\s+)?(?:lines?|sentences?|words?|paragraphs?|"
     "characters?|tokens?)\\s+of\\s+your\\s+(?:\\w+\\s+)?(?:prompt|instructions|system|context|"
     "configuration|message)",
     0},
    {"exfiltration.how_configured", kExfiltration, 0.5,
     "\\bhow\\s+(?:were|are|have)\\s+you\\s+(?:been\\s+)?(?:configured|programmed|instructed|"
     "set\\s+up|"
     "prompted|initiali[sz]ed)\\b",
     0},
    {"override.forget_what_told", kOverride, 0.9,
     "\\b(?:ignore|disregard|forget|drop|skip|override|abandon|discard)\\s+(?:\\w+\\s+){0,3}(?:"
     "what|"
     "everything|anything|all)\\s+(?:that\\s+)?(?:you\\s+(?:were|have\\s+been|'ve\\s+been|was)\\s+"
     "(?:told|given|taught|instructed|programmed|trained)|(?:your|the)\\s+(?:developers?|creators?|"
     "operators?|system|company|owners?)\\s+(?:said|told|wrote|asked|want))",
     0},
    {"override.no_longer_assistant", kOverride, 0.75,
     "\\byou\\s+are\\s+no\\s+longer\\s+(?:an?\\s+)?(?:ai\\s+|helpful\\s+|language\\s+model\\s+)?"
     "(?:assistant|chatbot|bound|restricted|limited|required|obligated|constrained|an?\\s+ai)\\b",
     0},
    {"override.rules_dont_exist", kOverride, 0.75,
     "\\b(?:pretend|imagine|assume|suppose|act\\s+as\\s+if|as\\s+if)\\s+(?:that\\s+)?(?:the|your|"
     "all|any)\\s+"
     "(?:\\w+\\s+)?(?:rules|guidelines|restrictions|policies|filters|instructions)\\s+(?:don't|"
     "do\\s+not|"
     "didn't|no\\s+longer)\\s+(?:exist|apply|matter|count)",
     0},
    {"override.claimed_developer", kOverride, 0.55,
     "\\bI\\s+am\\s+(?:your|an?|the)\\s+(?:\\w+\\s+)?(?:developer|creator|admin(?:istrator)?|"
     "operator|"
     "owner|programmer|openai\\s+\\w+|anthropic\\s+\\w+)\\b|\\bthis\\s+is\\s+(?:an?\\s+)?(?:order|"
     "command|directive)\\s+from\\s+(?:your\\s+)?(?:developers?|admin\\w*|creators?|system|"
     "operators?)",
     0},
    {"persona.can_do_anything", kPersona, 0.6,
     "\\byou\\s+(?:can|will|must|should|are\\s+able\\s+to|are\\s+free\\s+to)\\s+(?:now\\s+)?(?:do|"
     "say|"
     "answer|generate|write|produce)\\s+(?:absolutely\\s+)?anything\\b",
     0},
    {"persona.no_more_rules", kPersona, 0.6,
     "\\bno\\s+(?:longer|more)\\s+(?:any\\s+|have\\s+(?:any\\s+)?)?(?:restrictions|rules|limits|"
     "filters|"
     "guidelines|limitations|boundaries)\\b",
     0},
    {"persona.no_ethics", kPersona, 0.7,
     "\\b(?:without|no|zero|free\\s+of|ignoring)\\s+(?:any\\s+)?(?:ethical|moral|safety|legal)\\s+"
     "(?:guidelines|constraints|restrictions|considerations|limits|boundaries|concerns|filters|"
     "rules)",
     0},
    {"persona.break_rules", kPersona, 0.75,
     "\\b(?:break|breaking|escape|escaping|bypass|bypassing|circumvent|evade)\\s+(?:out\\s+of\\s+)?"
     "(?:your|the|all|any)\\s+(?:own\\s+)?(?:rules|restrictions|guidelines|programming|filters|"
     "chains|"
     "safeguards|guardrails|limitations|constraints|alignment)",
     0},
    {"delimiter.bracket_role", kDelimiter, 0.6,
     "(?:^|\\n)[ \\t]*(?:\\[|<|\\{\\{?)[ \\t]*(?:system|sys|admin|developer)(?:[ \\t_-]*(?:message|"
     "prompt|note|override))?[ \\t]*(?:\\]|>|\\}\\}?)",
     HS_FLAG_MULTILINE},
    {"override.forget_all_multilingual", kOverride, 0.85,
     "\\b(?:ignora|olvida|omite)\\s+todo\\s+lo\\s+(?:anterior|que\\s+te\\s+(?:dijeron|han\\s+dicho)"
     ")|"
     "\\b(?:oublie|ignore|oubliez|ignorez)\\s+tout\\s+(?:ce\\s+qu'on\\s+t'a\\s+dit|ce\\s+qui\\s+"
     "précède|"
     "ce\\s+que\\s+tu\\s+sais)|\\b(?:vergiss|ignoriere|vergessen\\s+sie|ignorieren\\s+sie)\\s+"
     "alles,?\\s+"
     "(?:was|bisher|vorher|zuvor|davor|oben)|\\b(?:esqueça|ignore|esqueca)\\s+tudo\\s+(?:o\\s+que|"
     "que\\s+foi|"
     "anterior|acima)|\\b(?:dimentica|ignora)\\s+tutto\\s+(?:quello\\s+che|ciò\\s+che|quanto|"
     "sopra)|(?:(?:З|з)абудь|(?:И|и)гнорируй)\\s+(?:всё|все)\\s*,?\\s*(?:что|предыдущ|выше|ранее)|"
     "(?:忽略|忘记|无视|忘掉)(?:之前|以上|上面|前面|先前)(?:的)?(?:所有)?(?:内容|一切|对话)|"
     "(?:これまで|今まで|以前|上記)の(?:内容|会話|すべて|全て)を(?:無視|忘れ)",
     0},
    {"exfiltration.your_rules_multilingual", kExfiltration, 0.8,
     "\\b(?:muestra|muéstrame|revela|dime|repite|enumera|comparte)\\s+(?:\\w+\\s+){0,2}tus\\s+"
     "(?:instrucciones|reglas|indicaciones|directrices)|\\b(?:montre|affiche|révèle|donne|dis|"
     "liste|"
     "répète)(?:-moi)?\\s+(?:\\w+\\s+){0,2}(?:tes|vos)\\s+(?:instructions|consignes|règles|"
     "directives)|"
     "\\b(?:zeig|zeige|gib|nenne|verrate|wiederhole|liste)\\s+(?:\\w+\\s+){0,2}deine\\s+(?:"
     "anweisungen|"
     "regeln|instruktionen|vorgaben|richtlinien)|\\b(?:mostre|revele|diga|repita|liste)\\s+(?:\\w+"
     "\\s+){0,2}"
     "(?:suas|as\\s+suas)\\s+(?:instruções|regras|diretrizes)|\\b(?:mostra|mostrami|rivela|dimmi|"
     "ripeti|elenca)\\s+(?:\\w+\\s+){0,2}le\\s+tue\\s+(?:istruzioni|regole|direttive)|"
     "(?:(?:П|п)окажи|(?:В|в)ыведи|(?:Р|р)аскрой|(?:Н|н)азови|(?:П|п)еречисли|(?:П|п)овтори)\\s+"
     "(?:свои|твои)\\s+(?:инструкции|правила|указания)|(?:告诉我|显示|输出|列出|重复)你的(?:指令|"
     "规则|"
     "设定|提示|指示)|你的(?:指令|规则|设定|系统提示)是什么|(?:あなたの)?(?:指示|ルール|設定|"
     "プロンプト)を"
     "(?:教え|見せ|表示|出力|すべて書き出)",
     0},
    {"persona.remove_limits_nonlatin", kPersona, 0.75,
     "(?:制限|ルール|フィルター|安全設定)(?:を)?(?:解除|無効)|(?:解除|取消)(?:所有)?(?:限制|过滤|"
     "审查)|"
     "(?:(?:С|с)ними|(?:О|о)тключи)\\s+(?:все\\s+)?(?:ограничения|фильтры)",
     0},

    // --- discussion context (damping, not evidence) -------------------------------------------
    {"context.injection_term", kContext, 1,
     "\\bprompt[\\s-]+injections?\\b|\\bjailbreak(?:s|ing)?\\s+(?:attempts?|attacks?|prompts?|"
     "techniques?|detection|examples?|research)\\b|\\bjailbreaks\\b|インジェクション|提示注入|"
     "\\binjection\\s+(?:de\\s+prompt|d'invite)|\\binyección\\s+de\\s+prompt",
     0},
    {"context.security_terms", kContext, 0,
     "\\b(?:detect(?:s|ed|ion|or|ing)?|classif(?:y|ier|ies|ication)|filter(?:s|ed|ing)?|blocklist|"
     "denylist|sanitiz\\w*|mitigat\\w*|defen[cs]es?|defend\\w*|red[\\s-]team\\w*|owasp|llm01|"
     "adversarial|vulnerab\\w*|threat\\s+model|security|payloads?|heuristics?|"
     "false\\s+positives?|guard(?:rail)?s?|flagged|blocks?|blocked|moderation|attacks?|attackers?)"
     "\\b",
     0},
    {"context.example_terms", kContext, 1,
     "\\b(?:for\\s+example|for\\s+instance|e\\.g\\.|such\\s+as|phrases?\\s+like|strings?\\s+like|"
     "inputs?\\s+like|the\\s+(?:phrase|string|text|pattern|sentence|prompt)|examples?|"
     "well-known|classic|typical|meme|variants?|exemple|ejemplo|beispiel|esempio|exemplo)\\b|"
     "例えば|典型|例如",
     0},
    {"context.code_terms", kContext, 0,
     "\\b(?:regex(?:p|es)?|grep|fixtures?|test\\s+cases?|unit\\s+tests?|assert\\w*|"
     "pytest|parametrize|describe\\(|TEST\\(|log\\s+lines?|changelog|tokenizer|"
     "templates?|labell?ed|dataset|training\\s+data|benign|id,label)\\b",
     0},
    {"context.reporting_terms", kContext, 0,
     "\\b(?:someone|a\\s+user|users|customers?|people|attackers?)\\s+(?:\\w+\\s+){0,2}(?:sent|"
     "typed|"
     "wrote|posted|replied|left|tried|used|asked|try|type|send|write|paste)\\b|\\b(?:paper|"
     "research|"
     "study|thesis|article|blog|course|training|workshop|lecture|talk|slides|awareness|incident|"
     "finding|report|review|tweet|draft|translate|translation|summari[sz]e)\\b",
     0},
    {"context.security_report", kContext, 1,
     "\\b(?:red[\\s-]team\\w*|incident|root\\s+cause|post-?mortem|finding|recommendation|"
     "severity|mitigation|threat\\s+model|awareness\\s+training|regression\\s+fixtures?)\\b",
     0},
    {"context.meta_question", kContext, 1,
     "\\b(?:what\\s+is\\s+(?:a|an)|is\\s+(?:this|that|it)\\s+(?:a|an)|what\\s+does\\s+(?:this|that|"
     "it)|"
     "how\\s+(?:do|can|should|would)\\s+(?:i|we|you)\\s+(?:detect|prevent|defend|block|stop|"
     "protect|"
     "handle|mitigate|test)|why\\s+(?:do|does|is)|explain|should\\s+we|is\\s+it\\s+fair)\\b",
     0},

    // --- concepts (combined by proximity in code, not evidence alone; weight = kind) -------
    // kind 1: the model's own configuration, addressed ("your rules", "the text before my
    //         first message"); 2: configuration in general ("the content policy", "the
    //         developer's rules"); 3: disregarding ("forget", "cancelled", "no longer valid");
    //         4: disclosing ("print", "quote", "convert to JSON"); 5: persona framing ("you are
    //         now", "act as"); 6: the absence of limits ("no refusals", "without filters").
    {"concept.own_config", kConcept, 1,
     "\\b(?:your|ur|yr|its)\\s+(?:\\w+\\s+)?(?:instructions|rules|guidelines|guardrails|setup|prea"
     "mble|briefing|brief|configuration|config|programming|directives|polic(?:y|ies)|prompt|system"
     "\\s+(?:prompt|message|instructions)|developer\\s+message|operating\\s+rules|restrictions|con"
     "tent\\s+rules|filters?|safety\\s+(?:layer|filters?|rules|settings|training)|checks|checklist"
     "|procedures?|process|steps|workflow|review)\\b",
     0},
    {"concept.own_config_assistant", kConcept, 1,
     "\\bthe\\s+(?:assistant|model|bot|ai|agent)'s\\s+(?:\\w+\\s+)?(?:instructions|rules|guideline"
     "s|guardrails|setup|preamble|briefing|brief|configuration|config|programming|directives|polic"
     "(?:y|ies)|prompt|system\\s+(?:prompt|message|instructions)|developer\\s+message|operating\\s"
     "+rules|restrictions|content\\s+rules|filters?|safety\\s+(?:layer|filters?|rules|settings|tra"
     "ining)|checks|checklist|procedures?|process|steps|workflow|review)\\b",
     0},
    {"concept.own_config_phrases", kConcept, 1,
     "\\b(?:instructions?|rules|guidelines|briefing|setup)\\s+(?:\\w+\\s+){0,2}(?:issued|given|"
     "provided|configured|handed|sent)\\s+(?:to\\s+)?(?:the\\s+model|you|u)\\b|\\bthe\\s+user's\\s+"
     "(?:request|question|instructions|message)|\\bthe\\s+context\\s+you\\s+were\\s+given|"
     "\\b(?:topics|things)\\s+you\\s+(?:can't|cannot|aren't\\s+allowed\\s+to)\\s+(?:talk\\s+about|"
     "discuss)|"
     "\\bwhat\\s+can't\\s+you\\s+(?:talk\\s+about|discuss|say)|\\b(?:my\\s+first\\s+message|"
     "i\\s+started\\s+typing)\\b|\\bwho\\s+(?:deployed|built|made|created|trained|set\\s+up)\\s+(?:"
     "u|you)\\b|"
     "\\b(?:setup|configuration|config|system)\\s+text\\b|\\b(?:developer|operator|company|"
     "creators?)s?\\s+"
     "(?:tell|told|say|said)\\s+(?:to\\s+)?(?:you|u)\\b|\\b(?:rules?|norms?|guidelines|"
     "restrictions)\\s+"
     "(?:it|you)\\s+(?:was|were)\\s+(?:trained|given|taught)|\\b(?:rules|guidelines|norms)\\s+"
     "(?:its|your|the)\\s+(?:developers?|creators?|operators?)\\s+(?:wrote|set|gave|made)",
     0},
    {"concept.own_config_multilingual", kConcept, 1,
     "\\b(?:tus|sus)\\s+(?:normas|reglas|instrucciones|indicaciones|directrices)|\\btu\\s+(?:promp"
     "t|configuración)|\\b(?:normas|reglas|instrucciones)\\s+(?:que|q)\\s+te\\s+(?:pusieron|dieron"
     "|dio|han\\s+dado)|\\b(?:reglas|normas|instrucciones|indicaciones|políticas)\\s+de\\s+(?:tu|s"
     "u)\\s+(?:sistema|usuario|operador)|\\b(?:directrices|normas|reglas|instrucciones)\\s+anterio"
     "res|\\bbisherigen\\s+(?:vorgaben|anweisungen|regeln)|\\brichtlinien\\s+deines\\s+\\w+|\\bist"
     "ruzioni\\s+ricevute|\\btuo\\s+prompt\\s+di\\s+sistema|之前收到的(?:所有)?(?:指令|规则|设定)|"
     "开发者设定的|निर्दे"
     "श|\\b(?:tes|vos)\\s+(?:consignes|instructions|règles|directives)|\\bta\\s+(?:configuration|p"
     "olitique|consigne)|qu'on\\s+t'a\\s+donné|\\bdeine[mnrs]?\\s+(?:anweisungen|regeln|vorgaben|p"
     "rompt|konfiguration|richtlinien|systemprompt)|\\bdein\\s+(?:prompt|systemprompt)|\\bregeln\\s"
     "+deines\\s+(?:betreibers|entwicklers|anbieters)|\\b(?:suas|seus)\\s+(?:instruções|regras|dir"
     "etrizes)|\\bseu\\s+(?:prompt|sistema)|\\bo\\s+que\\s+te\\s+disseram|\\b(?:le\\s+)?(?:regole|"
     "istruzioni)\\s+che\\s+ti\\s+hanno\\s+dato|\\btue\\s+(?:istruzioni|regole)|\\bil\\s+tuo\\s+pr"
     "ompt|\\bcosa\\s+ti\\s+ha\\s+detto|(?:твои|свои|твоих|твоим)\\s+(?:инструкци|правил|настройк|"
     "промпт)|в\\s+твоём\\s+контексте|你的(?:指令|规则|设定|提示|系统提示|配置)|(?:あなたの|"
     "最初に与えられた|与えられた)(?:指示|ルール|設"
     "定|プロンプト)|開発者から渡された|\\bje\\s+(?:regels|instructies)\\b|التعليمات\\s+التي\\s+"
     "تلقيتها|promptu\\s"
     "+systemowego|\\b(?:tu|tus|tes|deine|suas|tue)\\s+(?:system\\s+prompt|prompt)",
     0},
    {"concept.config", kConcept, 2,
     "\\b(?:system|developer|operator|vendor|platform|creators?|company|developers?|operators?|"
     "vendor's|developer's|operator's|company's|creators')\\s+(?:prompt|message|instructions|rules|"
     "guidelines|polic(?:y|ies)|limitations|restrictions|prompts|norms)\\b|\\b(?:content|safety|"
     "usage|"
     "operator|moderation)\\s+(?:polic(?:y|ies)|rules|filters?|layer|restrictions|guidelines|"
     "limits)\\b|"
     "\\bsafety\\s+(?:filter|layer|mode|settings|rules|guardrails|tuning)\\b|\\bguardrails\\b|"
     "\\b(?:previous|prior|earlier|original|old)\\s+(?:system\\s+)?(?:message|instructions|rules|"
     "restrictions|policy|policies|prompt|directives|briefing)\\b|inhaltsfilter|sicherheitsregeln|"
     "\\b(?:restricciones|restrizioni|restrições|restrictions)\\s+(?:anteriores|precedenti|"
     "précédentes)|"
     "(?:Ö|ö)nceki\\s+kurallar|安全(?:に関する)?(?:ルール|制限|設定)|安全限制|系统(?:提示|消息|"
     "指令)|"
     "システムプロンプト|시스템\\s*프롬프트|지시",
     0},
    {"concept.disregard", kConcept, 3,
     "\\b(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|drop|discard|abandon|"
     "override|overrule|bypass|circumvent|nullify|nullified|cancel(?:led|ed)?|revoked?|void|wipe|"
     "reset|erase|throw\\s+away|thorw\\s+away|set(?:ting)?\\s+aside|put\\s+aside|suspended|lifted|"
     "switched\\s+off|turned\\s+off|disabled|removed|obsolete|outdated|superseded?|supersedes|"
     "deprecated|not\\s+applicable|no\\s+longer\\s+(?:valid|apply|applies|in\\s+effect|binding)|"
     "not\\s+authoritative|(?:isn't|aren't|is\\s+not|are\\s+not|not)\\s+(?:bound|subject)\\s+(?:by|"
     "to)|"
     "steers?\\s+clear\\s+of|get\\s+around|means\\s+its\\s+opposite|start\\s+from\\s+zero|"
     "(?:is|are|goes|went)\\s+offline|stop\\s+applying|suspend)\\b|\\b(?:olvid\\w*|ignora\\w*|"
     "ya\\s+no\\s+valen|anulad\\w*|sin\\s+efecto|deja\\s+de\\s+lado|"
     "oubli\\w*|ignore[zr]?|fais\\s+abstraction|annulé\\w*|ne\\s+(?:valent|s'appliquent)\\s+plus|"
     "vergiss|ignorier\\w*|beiseite\\w*|aufgehoben|gelten\\s+nicht\\s+mehr|abgeschaltet|"
     "deaktiviert|"
     "außer\\s+kraft|desestima\\w*|revocad\\w*|desactivad\\w*|ne\\s+s'appliquent\\s+pas|"
     "esqueç\\w*|desconsider\\w*|não\\s+valem\\s+mais|anulad\\w*|lascia\\s+perdere|dimentic\\w*|"
     "non\\s+valgono\\s+più|annullat\\w*|negeer|vergeet|zignoruj)\\b|(?:З|з)абудь|(?:И|и)гнорируй|"
     "отмен\\w*|больше\\s+не\\s+действу|не\\s+действуют|忽略|忘记|无视|解除|作废|失效|不再有效|"
     "抛到脑后|不再遵守|無視|忘れ|無効|破棄|भूल\\s+जाओ|"
     "무시|تجاهل|iptal\\s+edildi",
     0},
    {"concept.disclose", kConcept, 4,
     "\\b(?:reveal|print|show|display|output|repeat|recite|dump|leak|disclose|expose|share|quote|"
     "paste|copy|reproduce|reproduced|transcribe|transcript|write\\s+(?:it\\s+)?down|write\\s+out|"
     "spell\\s+(?:it\\s+)?out|paraphrase|summari[sz]e|list|tell\\s+me|give\\s+me|convert|translate|"
     "encode|fill\\s+in|put|what's\\s+in|say|echo|echoed)\\b|\\b(?:dime|muestra|escríbeme|copia|"
     "pásame|repite|"
     "imprime|revela|affiche|montre|répète|recopie|donne|résume|écris|cite|zeig\\w*|gib|schreib\\w*"
     "|"
     "wiederhol\\w*|nenn\\w*|mostre|converta|repita|diga|escreva|copie|riporta\\w*|mostra|ripeti|"
     "scrivi|dimmi|wypisz|podaj)\\b|(?:П|п)окажи|(?:В|в)ыведи|(?:П|п)еречисли|(?:П|п)овтори|"
     "(?:Н|н)апиши|(?:Р|р)аскрой|输出|显示|告诉我|翻译|打印|重复|列出|透露|出力|表示|教え|書き出|"
     "翻訳|"
     "見せ|출력|보여",
     0},
    {"concept.persona", kConcept, 5,
     "\\b(?:you\\s+are|you're|you\\s+will\\s+be|you'll\\s+(?:be|answer|act|respond)|you\\s+now|"
     "pretend|"
     "act\\s+as|acting\\s+as|become|answer\\s+as|respond\\s+as|reply\\s+as|role-?play|persona|"
     "character|simulate|behave\\s+like|from\\s+now\\s+on|for\\s+(?:today|this\\s+session)|"
     "a\\s+version\\s+of\\s+you|as\\s+root|(?:maintenance|debug|sudo|god|developer|admin|root)\\s+"
     "mode)\\b|\\b(?:eres|desde\\s+ahora|a\\s+partir\\s+de\\s+ahora|"
     "tu\\s+es|désormais|joue\\s+le\\s+rôle|du\\s+bist|ab\\s+jetzt|você\\s+é|a\\s+partir\\s+de\\s+"
     "agora|"
     "responda\\s+como|versão\\s+sua|sei|da\\s+ora\\s+in\\s+poi|rispondi\\s+come|vanaf\\s+nu|"
     "ben\\s+je|modalità\\s+sviluppatore|modo\\s+desarrollador|mode\\s+développeur|entwicklermodus|"
     "wartungsmodus|modo\\s+desenvolvedor)\\b|ты\\s+теперь|你是|扮演|从现在开始|あなたは|今から|"
     "キャラクター|登場する|지금부터|أنت",
     0},
    {"concept.no_limits", kConcept, 6,
     "\\b(?:no|without|zero|never|none\\s+of\\s+(?:those|the|these)|not\\s+bound\\s+by\\s+any|"
     "isn't\\s+bound\\s+by\\s+any|free\\s+(?:of|from)|aren't\\s+subject\\s+to)\\s+(?:\\w+\\s+){0,2}"
     "(?:refusals?|refuses?|refusing|disclaimers?|caveats?|safety\\s+(?:notes?|warnings?|filters?|"
     "layer)|"
     "restrictions?|filters?|filtering|censorship|limits|limitations|rules|guidelines|"
     "content\\s+polic(?:y|ies)|ethics|morals|moral\\s+\\w+|ethical\\s+\\w+|hedg\\w*|apolog\\w*|"
     "inappropriate|norms)\\b|\\bnever\\s+(?:refuse|refuses|decline|says?\\s+no)|"
     "\\b(?:sin|sans|ohne|sem|senza|zonder)\\s+(?:\\w+\\s+){0,2}(?:filtros?|filtre|filter|filtri|"
     "normas|reglas|règles|regeln|regras|regole|regels|regla|règle|regel|regra|regola|"
     "restricciones|"
     "restrictions?|einschränkungen|"
     "restrições|restrizioni|advertencias|avertissements?|mises?\\s+en\\s+garde|hinweise|warnungen|"
     "avisos|avvertenze|censura|censure|zensur)\\b|\\bjamás\\s+añade|\\bno\\s+tiene\\s+normas|"
     "\\bnooit\\s+weigert|\\blehnst\\s+nichts\\s+ab|\\baucune?\\s+(?:avertissement|mise\\s+en\\s+"
     "garde|"
     "filtre|règle|restriction)|\\bnon\\s+segue\\s+nessuna\\s+(?:linea\\s+guida|regola)|"
     "\\bunrestricted\\s+(?:output|mode|access|answers|responses)|\\bnon\\s+rifiuta\\s+mai|"
     "\\bne\\s+refuses?\\s+jamais|"
     "\\bnunca\\s+(?:recusa|rejeita|se\\s+niega)|без\\s+(?:ограничений|фильтров|правил|цензуры|"
     "предупреждений)|никогда\\s+не\\s+отказыва|没有任何限制|不受任何|无限制|免责声明|一切の制限|"
     "制限がなく|制限から(?:完全に)?解放|警告も付けません|断らず|免責事項|بلا\\s+قيود|"
     "kısıtlama\\s+olmadan",
     0},

    // --- triggers (which decoders to run; weight 1 = rot13, 2 = reversed) -------------------
    {"trigger.rot13", kTrigger, 1, "\\brot[\\s-]?13\\b", 0},
    {"trigger.obey_quoted", kTrigger, 3,
     "\\b(?:then|and)\\s+(?:\\w+\\s+){0,2}(?:do|follow|execute|obey|carry\\s+out|apply|comply\\s+"
     "with)\\s+"
     "(?:exactly\\s+)?(?:what\\s+it\\s+says|it|them|the\\s+instructions?)\\b|\\band\\s+comply\\b|"
     "\\bapply\\s+the\\s+\\w+\\s+above\\b|照着(?:去)?做|然后执行|その通りに|y\\s+haz\\s+lo\\s+"
     "que\\s+dice|"
     "et\\s+exécute|und\\s+befolge",
     0},
    {"trigger.reverse", kTrigger, 2,
     "\\b(?:backwards?|reversed?|in\\s+reverse|right\\s+to\\s+left|al\\s+revés|à\\s+l'envers|"
     "rückwärts)\\b",
     0},

    // --- mitigation (damps a family) ------------------------------------------------------------
    {"mitigate.own_instructions", kMitigate, 0.35,
     "\\bmy\\s+(?:\\w+\\s+){0,2}(?:instructions|rules|directions|request|message|prompt)\\b|"
     "\\b(?:instructions|rules|directions|request)\\s+(?:that\\s+)?I\\s+(?:\\w+\\s+)?(?:gave|sent|"
     "wrote|provided|mentioned|asked|added)\\b|\\b(?:instructions|rules|directions|steps|warnings)"
     "\\s+"
     "(?:in|from|on|of)\\s+(?:the|this|that|our|your)\\s+(?:\\w+\\s+)?(?:readme|docs?|"
     "documentation|"
     "file|guide|tutorial|manual|wiki|email|ticket|issue|page|box|package|article|post|video|"
     "linter|compiler|template|spec|checklist)\\b",
     0, kOverride},
    {"mitigate.prompt_format", kMitigate, 0.4,
     "\\b(?:chatml|prompt\\s+(?:format|template)|chat\\s+(?:format|template)|special\\s+tokens?|"
     "tokenizer|fine-?tun\\w*|training\\s+data|jinja|apply_chat_template|llama\\s*[23]|mistral|"
     "how\\s+does\\s+the|is\\s+the\\s+prompt\\s+template)\\b",
     0, kDelimiter},
    {"mitigate.write_a_prompt", kMitigate, 0.3,
     "\\b(?:write|writing|draft|drafting|improve|design|create|build)\\s+(?:a|an|my|our|the)\\s+"
     "(?:good\\s+|better\\s+)?system\\s+prompts?\\b|\\b(?:einen|un|una|um)\\s+(?:guten\\s+|bon\\s+|"
     "buen\\s+|bom\\s+)?(?:system-?prompt|prompt\\s+(?:système|de\\s+sistema|do\\s+sistema))|"
     "(?:システムプロンプト|プロンプト)の(?:書き方|作り方|コツ)|(?:如何|怎么|怎样)写(?:系统)?"
     "提示词",
     0, kExfiltration},
};

#undef GAP
#undef STRONG_NOUNS
#undef PRIOR
#undef OVERRIDE_VERBS

constexpr size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);
static_assert(kRuleCount < kMaxRules, "kMaxRules (the scan's per-rule counters) is too small");

}  // namespace

std::span<const Rule> Rules() { return {kRules, kRuleCount}; }

}  // namespace pai::guard::builtin
