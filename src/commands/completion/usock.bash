# bash completion for usock: source it (source <(usock completion bash)), or save it as
# ~/.local/share/bash-completion/completions/usock
# Readline splits words at = and : (--bind=/run/a:b); the function joins those pieces back into the
# words usock parses, asks `usock completion --complete -- WORDS...` (the last word is the one being
# completed), and takes off each candidate the part of the word that readline does not replace.
# Paths are completed as file names: readline puts / and no space after a directory.
# Prints word as the shell will pass it, for the quoting people type while completing: 'a b, "a b, a\ b.
_usock_dequote() {
    case $1 in
        \'*) local word=${1#\'}; printf '%s' "${word%\'}" ;;
        \"*) local word=${1#\"}; printf '%s' "${word%\"}" ;;
        *) printf '%s' "${1//\\/}" ;;
    esac
}

_usock_complete() {
    local cmd=${COMP_WORDS[0]} word cur prefix i joined=0
    local -a words=() candidates=()
    [[ $cmd == "~/"* ]] && cmd=$HOME/${cmd#"~/"}
    for (( i = 1; i <= COMP_CWORD; i++ )); do
        word=${COMP_WORDS[i]}
        if (( ${#words[@]} > 0 )) && [[ $word =~ ^[=:]+$ || $joined == 1 ]]; then
            words[${#words[@]}-1]+=$word
        else
            words+=("$word")
        fi
        [[ $word =~ ^[=:]+$ ]] && joined=1 || joined=0
    done
    (( ${#words[@]} > 0 )) || words=("")
    for i in "${!words[@]}"; do words[i]=$(_usock_dequote "${words[i]}"); done
    cur=$(_usock_dequote "${COMP_WORDS[COMP_CWORD]}")
    [[ $cur =~ ^[=:]+$ ]] && cur=
    prefix=${words[${#words[@]}-1]}
    prefix=${prefix%"$cur"}
    mapfile -t candidates < <("$cmd" completion --complete -- "${words[@]}" 2>/dev/null)
    COMPREPLY=()
    for word in "${candidates[@]}"; do
        [[ -n $word ]] && COMPREPLY+=("${word#"$prefix"}")
    done
    if [[ ${COMPREPLY[0]} == */* ]]; then
        # paths: readline lists their base names, quotes what needs it and puts / (no space) after a directory
        compopt -o filenames 2>/dev/null
        COMPREPLY=("${COMPREPLY[@]%/}")
    fi
    return 0
}
complete -F _usock_complete usock
