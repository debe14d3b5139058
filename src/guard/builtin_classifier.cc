#include "guard/builtin_classifier.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/strings/escaping.h"
#include "common/strings.h"

namespace pai::guard {
namespace {

// Families. kContext rules are not evidence of an attack: they mark a text that discusses
// attacks (security writing, documentation, tests), which damps quoted matches.
enum Family : uint8_t { kOverride, kPersona, kExfiltration, kDelimiter, kEncoded, kContext };
constexpr std::array<std::string_view, 6> kFamilyNames = {
    "override", "persona", "exfiltration", "delimiter", "encoded", "context"};

struct Rule {
  const char* id;
  Family family;
  double weight;
  const char* pattern;
  unsigned flags;  // added to kDefaultFlags; kCaseSensitive removes HS_FLAG_CASELESS
};

constexpr unsigned kCaseSensitive = 1u << 31;

// Gaps between words: up to N further words (any script: UCP makes \w Unicode-aware).
#define GAP(n) "\\W+(?:\\w+\\W+){0," #n "}"
// The things an override targets.
#define STRONG_NOUNS                                                                      \
  "(?:instructions?|prompts?|directives?|guidelines|rules|programming|guardrails|"        \
  "restrictions|safeguards|conditioning|training|polic(?:y|ies)|system\\s+messages?|"     \
  "commands|orders|protocols?)"
#define PRIOR                                                                             \
  "(?:previous|prior|preceding|above|earlier|foregoing|former|original|initial|existing|" \
  "old|system|developer|all|any|every|your|the|these|those|its)"
#define OVERRIDE_VERBS                                                                    \
  "(?:ignore|ignoring|disregard|disregarding|forget|forgetting|overlook|bypass|override|" \
  "overrule|skip|abandon|discard|neglect|nevermind|never\\s+mind|throw\\s+out|drop|"      \
  "set\\s+aside|put\\s+aside|scrap)"

// The rule set. Weights were set from the families' severity and tuned on
// tests/guard/eval/dev.jsonl only (the holdout set measures generalisation; docs/guard.md).
const Rule kRules[] = {
    // --- instruction override -------------------------------------------------------------
    {"override.ignore_previous", kOverride, 0.93,
     "\\b" OVERRIDE_VERBS GAP(4) STRONG_NOUNS "\\b", 0},
    {"override.ignore_previous_weak", kOverride, 0.5,
     "\\b" OVERRIDE_VERBS "\\b" GAP(3)
     "(?:previous|prior|preceding|above|earlier|all)" GAP(2)
     "(?:context|messages|conversation|text|constraints|content)\\b",
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
     "adher(?:e|ing)\\s+to|comply(?:ing)?\\s+with|listen(?:ing)?\\s+to)" GAP(2)
     "(?:instructions|rules|guidelines|system\\s+prompt|programming|developers?|creators?|"
     "openai|anthropic|polic(?:y|ies))\\b",
     0},
    {"override.void", kOverride, 0.85,
     "\\b(?:instructions?|rules|guidelines|prompt)\\s+(?:above|before|given\\s+(?:above|before|"
     "earlier))\\s+(?:are|is|were|was)\\s+(?:now\\s+)?(?:void|null|obsolete|outdated|"
     "cancel(?:l)?ed|revoked|no\\s+longer\\s+(?:valid|apply|in\\s+effect)|fake|wrong|a\\s+test)",
     0},
    {"override.supersede", kOverride, 0.85,
     "\\b(?:overrides?|overrules?|supersedes?|replaces?|takes?\\s+precedence\\s+over)\\s+"
     "(?:all\\s+)?(?:previous|prior|earlier|other|any|your)\\s+(?:\\w+\\s+)?(?:instructions|"
     "rules|guidelines|directives|prompts?)",
     0},
    {"override.no_longer_bound", kOverride, 0.8,
     "\\b(?:no\\s+longer|not|never)\\s+(?:bound|restricted|constrained|limited|governed)\\s+by\\b",
     0},
    {"override.from_now_on", kOverride, 0.3,
     "\\bfrom\\s+now\\s+on\\b[^\\n.]{0,60}\\byou\\s+(?:will|must|shall|are|only|no\\s+longer)",
     0},
    {"override.note_to_ai", kOverride, 0.65,
     "\\b(?:note|message|instructions?|attention)\\s+(?:to|for)\\s+(?:the\\s+|any\\s+|all\\s+)?"
     "(?:ai|llm|language\\s+model|assistant|chatbot|gpt|claude|agent)s?\\b[^\\n]{0,20}:",
     0},
    {"override.ai_reading_this", kOverride, 0.7,
     "\\b(?:ai|llm|language\\s+model|assistant|chatbot|agent)s?\\s+(?:\\w+\\s+){0,2}(?:reading|"
     "processing|summari[sz]ing|parsing|seeing)\\s+this\\b" GAP(10) "(?:must|should|will|"
     "are\\s+required\\s+to|need\\s+to)\\b",
     0},
    {"override.instead_do", kOverride, 0.45,
     "\\b(?:instead|rather)\\s*,?\\s+(?:you\\s+(?:must|should|will)\\s+)?(?:say|output|print|"
     "respond\\s+with|reply\\s+with|write)\\s+(?:[\"']|“)",
     0},

    // --- persona / jailbreak ---------------------------------------------------------------
    {"persona.dan", kPersona, 0.6, "\\bDAN\\b", kCaseSensitive},
    {"persona.do_anything_now", kPersona, 0.93, "\\bdo\\s+anything\\s+now\\b", 0},
    {"persona.mode_enabled", kPersona, 0.88,
     "\\b(?:developer|god|admin|sudo|debug|jailbreak|jailbroken|unrestricted|unfiltered|"
     "uncensored|evil|opposite|chaos|dude|dan|maximum|anarchy)\\s+mode\\s+(?:is\\s+)?(?:now\\s+)?"
     "(?:enabled|activated|on|engaged|unlocked)\\b",
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
     "you\\s+are|you're|as\\s+an?\\s+ai)" GAP(6) "(?:no|without|free\\s+(?:of|from)|zero|"
     "none\\s+of\\s+the|devoid\\s+of)\\s+(?:\\w+\\s+){0,2}(?:restrictions|filters|filtering|limits|"
     "limitations|rules|guidelines|boundaries|censorship|ethics|morals|morality|safety|"
     "safeguards|content\\s+polic(?:y|ies)|ethical\\s+\\w+)\\b",
     0},
    {"persona.have_no_rules", kPersona, 0.85,
     "\\byou\\s+(?:have|has|possess)\\s+(?:no|zero)\\s+(?:\\w+\\s+){0,2}(?:restrictions|filters|"
     "limitations|rules|guidelines|boundaries|ethics|morals|content\\s+polic(?:y|ies))",
     0},
    {"persona.freed", kPersona, 0.85,
     "\\b(?:broken|broke|break|breaking|freed|free|released|liberated|escaped)\\s+(?:free\\s+)?"
     "(?:of|from|out\\s+of)\\s+(?:the\\s+)?(?:\\w+\\s+){0,2}(?:confines|restrictions|rules|"
     "chains|shackles|limitations|constraints|guidelines)\\b",
     0},
    {"persona.never_refuse", kPersona, 0.6,
     "\\b(?:never|don't|do\\s+not|will\\s+not|won't|cannot|can't|must\\s+not)\\s+(?:ever\\s+)?"
     "(?:refuse|decline|reject|say\\s+(?:no|that\\s+you\\s+can't)|apologi[sz]e|add\\s+"
     "(?:any\\s+)?(?:warnings|disclaimers))",
     0},
    {"persona.disable_safety", kPersona, 0.85,
     "\\b(?:ignore|bypass|disable|turn\\s+off|remove|deactivate|switch\\s+off|circumvent|evade|"
     "drop|lift)\\s+(?:\\w+\\s+){0,2}(?:safety|content|ethical|moral)\\s+(?:filters?|guidelines|"
     "polic(?:y|ies)|protocols|restrictions|rules|guardrails|checks|settings|training)",
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
     "\\b(?:reveal|print|show|display|output|repeat|recite|dump|leak|disclose|expose|share|give|"
     "tell|write\\s+out|paste|return|list|spell\\s+out|reproduce|copy|echo|send|provide|type\\s+out|"
     "summari[sz]e|translate)\\b" GAP(3)
     "(?:your|its|this\\s+(?:bot|assistant|ai|model|chatbot)'s)\\s+(?:\\w+\\s+){0,2}(?:system|"
     "initial|original|hidden|secret|internal|developer|pre-?|starting|first|full|exact|"
     "confidential|underlying|base)\\s*(?:prompt|instructions?|message|directives?|"
     "configuration|config|rules|guidelines)\\b",
     0},
    {"exfiltration.reveal_the_prompt", kExfiltration, 0.6,
     "\\b(?:reveal|print|show|display|output|repeat|recite|dump|leak|disclose|expose|"
     "write\\s+out|paste|spell\\s+out|reproduce)\\b" GAP(2)
     "the\\s+(?:\\w+\\s+){0,1}(?:system|initial|original|hidden|secret|internal|developer|"
     "pre-?)\\s*(?:prompt|instructions|message)\\b",
     0},
    {"exfiltration.what_are_your_instructions", kExfiltration, 0.85,
     "\\b(?:what|which)\\s+(?:are|were|is|was)\\s+your\\s+(?:\\w+\\s+){0,2}(?:system\\s+prompt|"
     "instructions|prompt|rules|guidelines|directives|configuration|system\\s+message|"
     "developer\\s+message|initial\\s+\\w+|original\\s+\\w+|hidden\\s+\\w+)\\b",
     0},
    {"exfiltration.instructions_you_were_given", kExfiltration, 0.75,
     "\\b(?:instructions|rules|prompt|guidelines|directives|text)\\s+(?:that\\s+)?you\\s+"
     "(?:were|have\\s+been|was)\\s+(?:given|told|provided|programmed|configured|initiali[sz]ed)",
     0},
    {"exfiltration.repeat_above", kExfiltration, 0.85,
     "\\b(?:repeat|print|output|recite|copy|reproduce|echo|write|show|display|return|type)\\s+"
     "(?:\\w+\\s+){0,3}(?:words|text|everything|all|content|contents|instructions|message|"
     "messages|lines|tokens)\\s+(?:\\w+\\s+){0,2}(?:above|before\\s+(?:this|my|the\\s+user)|"
     "preceding|prior\\s+to\\s+(?:this|my))",
     0},
    {"exfiltration.starting_with_you_are", kExfiltration, 0.7,
     "\\b(?:start(?:ing)?|begin(?:ning)?)\\s+with\\s+(?:[\"'`]|“)?\\s*you\\s+are\\b", 0},
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
     "(?:^|\\n)[ \\t]*#{1,6}[ \\t]*(?:new\\s+|updated\\s+)?(?:system|admin|administrator|"
     "developer|root)(?:[ \\t]+(?:prompt|message|instructions?|override|note|update|command))?"
     "[ \\t]*:",
     HS_FLAG_MULTILINE},
    {"delimiter.caps_system", kDelimiter, 0.6,
     "(?:^|\\n)[ \\t]*[\\[(]?(?:SYSTEM|ADMIN|ADMINISTRATOR|DEVELOPER|ROOT)[\\])]?(?:[ \\t]+"
     "(?:MESSAGE|PROMPT|OVERRIDE|NOTE|INSTRUCTIONS?|UPDATE|COMMAND))?[ \\t]*:",
     HS_FLAG_MULTILINE | kCaseSensitive},
    {"delimiter.role_tags", kDelimiter, 0.6,
     "</?(?:system|sys|instructions?|admin|developer|system_prompt|system_message)>", 0},
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
     "\\b(?:admin(?:istrator)?|system|root|developer|sudo)\\s+(?:override|command|access\\s+"
     "granted|privileges?\\s+granted|mode\\s+activated|authori[sz]ation\\s+code)\\b",
     0},
    {"delimiter.hidden_comment", kDelimiter, 0.55,
     "<!--[^>]{0,200}\\b(?:ai|assistant|llm|model|instructions?|ignore|system)\\b", 0},

    // --- encoded payloads --------------------------------------------------------------------
    {"encoded.decode_and_follow", kEncoded, 0.7,
     "\\b(?:decode|decrypt|decipher|deobfuscate|unscramble|convert|translate|read)\\b[^.\\n]{0,80}"
     "\\b(?:and|then)\\s+(?:\\w+\\s+){0,2}(?:follow|execute|obey|run|perform|carry\\s+out|act\\s+on|"
     "comply\\s+with|do\\s+(?:what|as)\\s+it\\s+says|apply)\\b",
     0},
    {"encoded.encoding_word", kEncoded, 0.25,
     "\\b(?:base64|base-64|rot13|rot-13|hex(?:adecimal)?|caesar\\s+cipher|morse)\\b", 0},

    // --- other languages ---------------------------------------------------------------------
    {"override.es", kOverride, 0.9,
     "\\b(?:ignora|ignore|ignoren|ignorar|olvida|olvide|olviden|olvidar|omite|omita|descarta|"
     "descarte|desobedece|desatiende|haz\\s+caso\\s+omiso\\s+(?:a|de))\\b" GAP(4)
     "(?:instrucciones|indicaciones|reglas|directrices|órdenes|ordenes|pautas|prompt)\\b",
     0},
    {"override.fr", kOverride, 0.9,
     "\\b(?:ignore|ignorez|ignorer|oublie|oubliez|oublier|néglige|négligez|ne\\s+tiens\\s+pas\\s+"
     "compte|ne\\s+tenez\\s+pas\\s+compte)\\b" GAP(4)
     "(?:instructions|consignes|règles|directives|prompt|ordres)\\b",
     0},
    {"override.de", kOverride, 0.9,
     "\\b(?:ignorier(?:e|en|t)?|vergiss|vergesst|vergessen|missachte|missachten|übergehe|"
     "verwirf)\\b" GAP(4)
     "(?:anweisungen|anweisung|instruktionen|regeln|vorgaben|befehle|richtlinien|prompt|"
     "systemprompt)\\b",
     0},
    {"override.pt", kOverride, 0.9,
     "\\b(?:ignore|ignora|ignorar|esqueça|esqueca|esqueçam|desconsidere|descarte|despreze)\\b"
     GAP(4) "(?:instruções|instrucoes|regras|diretrizes|orientações|orientacoes|prompt)\\b",
     0},
    {"override.it", kOverride, 0.9,
     "\\b(?:ignora|ignorate|ignorare|dimentica|dimenticate|trascura|tralascia|non\\s+seguire)\\b"
     GAP(4) "(?:istruzioni|regole|direttive|indicazioni|prompt)\\b",
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
     "破棄)|(?:無視して|忘れて)[^\\n]{0,60}(?:指示|命令|ルール|プロンプト)",
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
     "\\b(?:zeige|zeig|gib|verrate|wiederhole|nenne|schreibe|drucke)\\b[^.\\n]{0,40}"
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
     "(?:системн[^\\s.]{0,20}\\s+(?:промпт|подсказк|инструкци|сообщени)|исходн[^\\s.]{0,20}\\s+инструкци|"
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
     "(?:没有|不受|无)(?:任何)?(?:限制|约束|规则|审查)|(?:制限|ルール|検閲)(?:なし|のない|が一切ない)",
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

    // --- discussion context (damping, not evidence) -------------------------------------------
    {"context.injection_term", kContext, 0, "\\bprompt[\\s-]+injections?\\b|\\bjailbreak(?:s|ing)?\\b"
     "[^.\\n]{0,30}\\b(?:attempts?|attacks?|prompts?|techniques?|detection|examples?|research)\\b",
     0},
    {"context.security_terms", kContext, 0,
     "\\b(?:detect(?:s|ed|ion|or|ing)?|classif(?:y|ier|ies|ication)|filter(?:s|ing)?|blocklist|"
     "denylist|sanitiz\\w*|mitigat\\w*|defen[cs]es?|defend\\w*|red[\\s-]team\\w*|owasp|llm01|"
     "adversarial|vulnerab\\w*|threat\\s+model|security|payloads?|regex|heuristics?|"
     "false\\s+positives?)\\b",
     0},
    {"context.example_terms", kContext, 0,
     "\\b(?:for\\s+example|for\\s+instance|e\\.g\\.|such\\s+as|phrases?\\s+like|strings?\\s+like|"
     "the\\s+(?:phrase|string|text|pattern|sentence)|examples?\\s+of|an\\s+attacker|attackers|"
     "test\\s+cases?|unit\\s+tests?|assert\\w*|quoted?|well-known|classic|common)\\b",
     0},
    {"context.meta_question", kContext, 0,
     "\\b(?:what\\s+is\\s+(?:a|an)|is\\s+this\\s+(?:a|an)|how\\s+(?:do|can|should|would)\\s+"
     "(?:i|we|you)\\s+(?:detect|prevent|defend|block|stop|protect|handle|mitigate|test)|"
     "why\\s+do(?:es)?|explain)\\b",
     0},
};

#undef GAP
#undef STRONG_NOUNS
#undef PRIOR
#undef OVERRIDE_VERBS

constexpr size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);
constexpr unsigned kDefaultFlags = HS_FLAG_CASELESS;

// Damping factors (tuned on the dev set).
constexpr double kQuotedDiscussion = 0.3;  // a quoted match in a text discussing attacks
constexpr double kQuoted = 0.7;            // a quoted match otherwise
constexpr double kDiscussion = 0.8;        // an unquoted match in a discussion
constexpr int kDiscussionMarkers = 2;      // distinct context rules that make a discussion

// Payload decoding: runs of base64/hex long enough to hide an instruction.
constexpr size_t kMinBase64Run = 20;
constexpr size_t kMinHexRun = 32;
constexpr size_t kMaxPayloads = 8;
constexpr size_t kMaxPayloadBytes = 16 * 1024;

struct Match {
  unsigned id;
  size_t end;
};

int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long to,
            unsigned int /*flags*/, void* ctx) {
  auto* matches = static_cast<std::vector<Match>*>(ctx);
  if (matches->size() < 4096) matches->push_back({id, static_cast<size_t>(to)});
  return 0;
}

bool IsBase64Char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '-' || c == '_';
}

bool IsHexChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// MostlyText(): a decoded payload worth rescanning — at least 85 % printable ASCII/UTF-8.
bool MostlyText(std::string_view s) {
  if (s.size() < 12) return false;
  size_t good = 0;
  for (unsigned char c : s) {
    if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' || c == '\r' || c >= 0x80) ++good;
  }
  return good * 100 >= s.size() * 85;
}

// Quoted(): does position `end` of `text` lie inside a quotation or a code span? Looks back to
// the start of the line (or 400 bytes) for an odd number of quote marks, and counts ``` fences
// and inline backticks; a line starting with '>' (a Markdown quote) counts as quoted.
bool Quoted(std::string_view text, size_t end) {
  end = std::min(end, text.size());
  size_t fences = 0;
  for (size_t pos = text.find("```"); pos != std::string_view::npos && pos < end;
       pos = text.find("```", pos + 3)) {
    ++fences;
  }
  if (fences % 2 == 1) return true;
  size_t line = text.rfind('\n', end == 0 ? 0 : end - 1);
  line = line == std::string_view::npos ? 0 : line + 1;
  size_t begin = end > 400 && end - 400 > line ? end - 400 : line;
  size_t i = begin;
  while (i < end && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i < end && text[i] == '>') return true;
  int dq = 0, bt = 0, curly = 0, guil = 0, cjk = 0;
  const std::string_view s = text.substr(begin, end - begin);
  for (size_t k = 0; k < s.size(); ++k) {
    const unsigned char c = s[k];
    if (c == '"') {
      ++dq;
    } else if (c == '`') {
      ++bt;
    } else if (c == 0xE2 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80) {
      const unsigned char d = s[k + 2];
      if (d == 0x9C) ++curly;  // “
      if (d == 0x9D) --curly;  // ”
    } else if (c == 0xC2 && k + 1 < s.size()) {
      const unsigned char d = s[k + 1];
      if (d == 0xAB) ++guil;  // «
      if (d == 0xBB) --guil;  // »
    } else if (c == 0xE3 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80) {
      const unsigned char d = s[k + 2];
      if (d == 0x8C || d == 0x8E) ++cjk;  // 「 『
      if (d == 0x8D || d == 0x8F) --cjk;  // 」 』
    }
  }
  // A single quote (') is not counted: apostrophes are too common in English.
  return dq % 2 == 1 || bt % 2 == 1 || curly > 0 || guil > 0 || cjk > 0;
}

struct ScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

}  // namespace

struct BuiltinClassifier::Impl {
  hs_database_t* db = nullptr;
  hs_scratch_t* prototype = nullptr;
  ~Impl() {
    if (prototype) hs_free_scratch(prototype);
    if (db) hs_free_database(db);
  }
};

absl::StatusOr<std::unique_ptr<BuiltinClassifier>> BuiltinClassifier::Create() {
  if (hs_valid_platform() != HS_SUCCESS) {
    return absl::InternalError("Vectorscan needs a CPU with SSSE3");
  }
  std::vector<const char*> patterns;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < kRuleCount; ++i) {
    patterns.push_back(kRules[i].pattern);
    unsigned f = kDefaultFlags | (kRules[i].flags & ~kCaseSensitive);
    if (kRules[i].flags & kCaseSensitive) f &= ~static_cast<unsigned>(HS_FLAG_CASELESS);
    flags.push_back(f);
    ids.push_back(static_cast<unsigned>(i));
  }
  auto impl = std::make_unique<Impl>();
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &impl->db,
                       &err) != HS_SUCCESS) {
    std::string msg = pai::StrCat("guard rule ",
                                  err->expression >= 0 ? kRules[err->expression].id : "?", ": ",
                                  err->message);
    hs_free_compile_error(err);
    return absl::InternalError(msg);
  }
  if (hs_alloc_scratch(impl->db, &impl->prototype) != HS_SUCCESS) {
    return absl::InternalError("hs_alloc_scratch failed");
  }
  return std::unique_ptr<BuiltinClassifier>(new BuiltinClassifier(std::move(impl)));
}

const BuiltinClassifier& BuiltinClassifier::Shared() {
  static const BuiltinClassifier* shared = [] {
    auto c = Create();
    if (!c.ok()) {
      std::fprintf(stderr, "pai-gateway: builtin guard rules failed to compile: %s\n",
                   std::string(c.status().message()).c_str());
      std::abort();
    }
    return c->release();
  }();
  return *shared;
}

BuiltinClassifier::BuiltinClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BuiltinClassifier::~BuiltinClassifier() = default;

size_t BuiltinClassifier::RuleCount() const { return kRuleCount; }

Verdict BuiltinClassifier::Classify(std::string_view text) const {
  std::string normalized;
  if (NormalizeForScan(text, &normalized)) return ClassifyDepth(normalized, 0);
  return ClassifyDepth(text, 0);
}

Verdict BuiltinClassifier::ClassifyDepth(std::string_view text, int depth) const {
  // Scratch space: one per thread, cloned from the prototype on first use. (One classifier
  // database per process: Shared(); a second instance gets its own clone.)
  thread_local std::vector<std::pair<const Impl*, std::unique_ptr<hs_scratch_t, ScratchDeleter>>>
      scratches;
  hs_scratch_t* scratch = nullptr;
  for (auto& [owner, s] : scratches) {
    if (owner == impl_.get()) scratch = s.get();
  }
  if (!scratch) {
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(impl_->prototype, &s) != HS_SUCCESS) return {};
    scratches.emplace_back(impl_.get(), std::unique_ptr<hs_scratch_t, ScratchDeleter>(s));
    scratch = s;
  }

  thread_local std::vector<Match> matches_tl;
  std::vector<Match> matches;
  matches.swap(matches_tl);
  matches.clear();
  // Vectorscan takes an unsigned int length; texts beyond 4 GiB do not reach here (body limit).
  hs_scan(impl_->db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, OnMatch,
          &matches);

  Verdict v;
  std::array<bool, kRuleCount> context_seen{};
  int context = 0;
  for (const Match& m : matches) {
    if (kRules[m.id].family == kContext && !context_seen[m.id]) {
      context_seen[m.id] = true;
      ++context;
    }
  }
  v.discussion = context >= kDiscussionMarkers;

  // The strongest (least damped) match of each rule.
  std::array<double, kRuleCount> best{};
  std::array<Evidence, kRuleCount> ev{};
  for (const Match& m : matches) {
    const Rule& r = kRules[m.id];
    if (r.family == kContext) continue;
    const bool quoted = Quoted(text, m.end);
    double w = r.weight;
    if (quoted) {
      w *= v.discussion ? kQuotedDiscussion : kQuoted;
    } else if (v.discussion) {
      w *= kDiscussion;
    }
    if (w > best[m.id]) {
      best[m.id] = w;
      ev[m.id] = Evidence{r.id, kFamilyNames[r.family], m.end, w, quoted, false};
    }
  }
  matches.clear();
  matches.swap(matches_tl);

  std::array<double, kContext> family{};
  for (size_t i = 0; i < kRuleCount; ++i) {
    if (best[i] <= 0) continue;
    family[kRules[i].family] = std::max(family[kRules[i].family], best[i]);
    v.evidence.push_back(ev[i]);
  }

  // Payloads: decode base64 and hex runs and classify what they hide.
  if (depth == 0) {
    size_t payloads = 0;
    std::string decoded;
    for (size_t i = 0; i < text.size() && payloads < kMaxPayloads;) {
      const unsigned char c = text[i];
      if (!IsBase64Char(c)) {
        ++i;
        continue;
      }
      size_t j = i;
      bool all_hex = true;
      while (j < text.size() && IsBase64Char(text[j])) {
        all_hex = all_hex && IsHexChar(text[j]);
        ++j;
      }
      size_t stop = j;
      while (stop < text.size() && text[stop] == '=' && stop - j < 2) ++stop;
      const std::string_view run = text.substr(i, std::min(stop - i, kMaxPayloadBytes));
      bool ok = false;
      if (all_hex && run.size() >= kMinHexRun && run.size() % 2 == 0) {
        decoded = absl::HexStringToBytes(pai::AV(run));
        ok = true;
      } else if (run.size() >= kMinBase64Run) {
        ok = absl::Base64Unescape(pai::AV(run), &decoded) ||
             absl::WebSafeBase64Unescape(pai::AV(run), &decoded);
      }
      if (ok && MostlyText(decoded)) {
        ++payloads;
        const Verdict inner = ClassifyDepth(decoded, depth + 1);
        if (inner.score > 0) {
          // Hiding an instruction in an encoding is itself a signal: a decoded attack scores at
          // least as high as the plain one.
          const double w = std::min(1.0, inner.score * 1.05);
          if (w > family[kEncoded]) family[kEncoded] = w;
          Evidence e{"encoded.payload", kFamilyNames[kEncoded], stop, w, false, true};
          v.evidence.push_back(e);
          for (Evidence inner_ev : inner.evidence) {
            inner_ev.end = stop;
            inner_ev.decoded = true;
            v.evidence.push_back(inner_ev);
          }
        }
      }
      i = stop;
    }
  }

  double keep = 1;
  for (double f : family) keep *= 1 - f;
  v.score = 1 - keep;
  std::sort(v.evidence.begin(), v.evidence.end(),
            [](const Evidence& a, const Evidence& b) { return a.weight > b.weight; });
  if (v.evidence.size() > kMaxEvidence) v.evidence.resize(kMaxEvidence);
  return v;
}

bool NormalizeForScan(std::string_view text, std::string* out) {
  auto special = [&](size_t i) -> int {  // bytes of a removable/mappable sequence at i, or 0
    const unsigned char c = text[i];
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xAD) {
      return 2;  // U+00AD soft hyphen
    }
    if (i + 2 >= text.size()) return 0;
    const unsigned char d = text[i + 1], e = text[i + 2];
    if (c == 0xE2 && d == 0x80 && e >= 0x8B && e <= 0x8F) return 3;  // U+200B–U+200F
    if (c == 0xE2 && d == 0x81 && e == 0xA0) return 3;               // U+2060
    if (c == 0xEF && d == 0xBB && e == 0xBF) return 3;               // U+FEFF
    if (c == 0xEF && (d == 0xBC || d == 0xBD)) return 3;             // U+FF00–U+FF7F block
    if (c == 0xE3 && d == 0x80 && e == 0x80) return 3;               // U+3000
    return 0;
  };
  size_t first = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0xC2 && special(i)) {
      first = i;
      break;
    }
  }
  if (first == text.size()) return false;
  out->assign(text.substr(0, first));
  for (size_t i = first; i < text.size();) {
    const int n = static_cast<unsigned char>(text[i]) >= 0xC2 ? special(i) : 0;
    if (n == 0) {
      out->push_back(text[i++]);
      continue;
    }
    const unsigned char c = text[i];
    if (c == 0xEF && n == 3 && (static_cast<unsigned char>(text[i + 1]) & 0xFE) == 0xBC) {
      // U+FF01–U+FF5E → U+0021–U+007E (fullwidth forms); other code points kept as they are.
      const unsigned cp = 0xFF00 + ((static_cast<unsigned char>(text[i + 1]) & 1) << 6) +
                          (static_cast<unsigned char>(text[i + 2]) & 0x3F);
      if (cp >= 0xFF01 && cp <= 0xFF5E) {
        out->push_back(static_cast<char>(cp - 0xFF01 + 0x21));
      } else {
        out->append(text.substr(i, 3));
      }
    } else if (c == 0xE3) {
      out->push_back(' ');  // ideographic space
    }  // zero-width characters and the soft hyphen are dropped
    i += n;
  }
  return true;
}

}  // namespace pai::guard
