/* coro/switch_x86_64_sysv.S: context switch for x86-64, System V ABI, ELF.
 *
 * Saves only what the ABI makes callee-saved: rbx, rbp, r12-r15, rsp, and the
 * control bits of mxcsr and of the x87 control word (unless
 * RINGO_NO_FPU_CONTEXT). Everything else is caller-saved, so the C caller
 * has already spilled what it needs. Layout in coro/frame.h.
 *
 *  saved sp -> +------+------+------+------+------+------+------+------+------+
 *              | mxcsr| x87cw|  r12 |  r13 |  r14 |  r15 |  rbx |  rbp |  ret |
 *              +------+------+------+------+------+------+------+------+------+
 *  offset      0      4      8      16     24     32     40     48     56
 *
 * Without the FP slot every offset moves down by 8. A new coroutine's first
 * frame (built by coro.c) holds fn in r12, arg in r13, its coro_t in r14
 * and the trampoline as return address; ringo__coro_start enters it
 * without that return.
 */
#include "coro/frame.h"


    .text

/* Push the callee-saved registers and the FP control slot: the frame a
 * suspended context leaves at its saved sp. */
.macro SAVE_FRAME
    pushq   %rbp                    /* callee-saved frame pointer */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx                    /* callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r15                    /* callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq   %r14                    /* callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r13                    /* callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r12                    /* callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
#if CORO_FRAME_FPU
    leaq    -8(%rsp), %rsp          /* room for the FP control slot */
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)                  /* save mxcsr (rounding mode, masks) */
    fnstcw  4(%rsp)                 /* save x87 control word */
#endif
.endm

/* Load the FP control state of the frame at rsp (it stays on the stack). */
.macro LOAD_FPU
#if CORO_FRAME_FPU
    /* Unconditional: reading back what stmxcsr stored to compare and skip
     * the loads costs more than the loads (measured on AMD Zen). */
    ldmxcsr (%rsp)                  /* restore the target's mxcsr */
    fldcw   4(%rsp)                 /* restore the target's x87 cw */
#endif
.endm

/* void ringo__coro_switch(void **save_sp, void *to_sp)
 *   rdi = where to store the running context's sp, rsi = sp to resume. */
    .globl  ringo__coro_switch
    .hidden ringo__coro_switch
    .type   ringo__coro_switch, @function
    .p2align 4
ringo__coro_switch:
    .cfi_startproc
    endbr64                         /* CET: valid indirect-branch target */
    SAVE_FRAME
    movq    %rsp, (%rdi)            /* publish our sp: we are now suspended */
    movq    %rsi, %rsp              /* adopt the target's stack (same layout) */
.Lrestore:                          /* also entered from the trampoline */
    LOAD_FPU
#if CORO_FRAME_FPU
    leaq    8(%rsp), %rsp           /* drop the FP control slot */
    .cfi_adjust_cfa_offset -8
#endif
    popq    %r12                    /* restore target's r12 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %r13                    /* restore target's r13 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r14                    /* restore target's r14 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r15                    /* restore target's r15 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %rbx                    /* restore target's rbx */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp                    /* restore target's rbp */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    /* ret, not pop+jmp: the return stack buffer then predicts it whenever
     * the target suspended through the call chain we are leaving (tasks
     * all suspend through the scheduler's switch_away), and predicts the
     * return of a coroutine's first run to whoever started it (below).
     * pop+jmp would leave it one entry off and mispredict every later
     * return. */
    ret                             /* resume the target where it called us */
    .cfi_endproc
    .size   ringo__coro_switch, .-ringo__coro_switch

/* void ringo__coro_start(void **save_sp, void *to_sp)
 *   As ringo__coro_switch, to a coroutine never run yet (to_sp: the first
 *   frame coro.c built). Its entry is jumped to, not returned to, so the
 *   return stack buffer keeps our own call on top: the entry function's
 *   return, which resumes us when it returns to its starter (the usual
 *   spawn-then-await), is then predicted. */
    .globl  ringo__coro_start
    .hidden ringo__coro_start
    .type   ringo__coro_start, @function
    .p2align 4
ringo__coro_start:
    .cfi_startproc
    endbr64
    SAVE_FRAME
    movq    %rsp, (%rdi)            /* publish our sp: we are now suspended */
    movq    %rsi, %rsp              /* the new stack, at its first frame */
    LOAD_FPU                        /* the creator's FP control state */
    movq    CORO_FRAME_R12(%rsp), %r12  /* fn */
    movq    CORO_FRAME_R13(%rsp), %r13  /* arg */
    movq    CORO_FRAME_R14(%rsp), %r14  /* its coro_t */
    xorl    %ebp, %ebp              /* no caller frame: fp walks stop here */
    leaq    CORO_FRAME_SIZE(%rsp), %rsp /* sp == top, as after the frame's ret */
    jmp     .Lentry
    .cfi_endproc
    .size   ringo__coro_start, .-ringo__coro_start

/* First code a new coroutine runs, rsp 16-byte aligned, r12 = fn,
 * r13 = arg, r14 = its coro_t: entered by the first frame's ret (a switch
 * to a fresh coroutine) or by ringo__coro_start. fn returns the coro_t to
 * resume (the running-coroutine pointer already set to it), or NULL. */
    .globl  ringo__coro_trampoline
    .hidden ringo__coro_trampoline
    .type   ringo__coro_trampoline, @function
    .p2align 4
ringo__coro_trampoline:
    .cfi_startproc
    .cfi_undefined %rip             /* outermost frame: unwinders stop here */
    endbr64                         /* CET: harmless when entered by ret */
.Lentry:
    movq    %r13, %rdi              /* first argument: arg */
    callq   *%r12                   /* to = fn(arg) */
    testq   %rax, %rax
    jz      1f
    movq    (%rax), %rsp            /* to->sp: this stack is dead from here */
    jmp     .Lrestore
1:  movq    %r14, %rdi              /* returned nothing: say which coroutine */
    callq   ringo__coro_returned    /* prints the name and aborts */
    ud2                             /* not reached */
    .cfi_endproc
    .size   ringo__coro_trampoline, .-ringo__coro_trampoline

#if defined(__CET__) && (__CET__ & 1)
/* Mark the object IBT-compatible (we have endbr64). Shadow stacks are not
 * claimed: a switch returns to another stack's address. */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* name size ("GNU\0") */
    .long   16                      /* descriptor size */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"                   /* owner */
    .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long   4                       /* property data size */
    .long   1                       /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .p2align 3                      /* pad descriptor to 8 bytes */
#endif

    .section .note.GNU-stack, "", %progbits   /* no executable stack */
