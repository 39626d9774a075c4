/* coro/switch_aarch64_aapcs.S: context switch for AArch64, AAPCS64, ELF.
 *
 * Saves only what AAPCS64 makes callee-saved: x19-x28, x29 (fp), x30 (lr),
 * sp, and d8-d15 (the low 64 bits of v8-v15). FPCR is not switched. Layout
 * in coro/frame.h; 160 bytes keep sp 16-byte aligned.
 *
 *  saved sp -> +-----+-----+-----+-----+-----+-----+-----+-----+-----+-----+
 *              | d8  | d9  | d10 | d11 | d12 | d13 | d14 | d15 | x19 | x20 |
 *              +-----+-----+-----+-----+-----+-----+-----+-----+-----+-----+
 *  offset      0     8     16    24    32    40    48    56    64    72
 *              +-----+-----+-----+-----+-----+-----+-----+-----+-----+-----+
 *              | x21 | x22 | x23 | x24 | x25 | x26 | x27 | x28 | x29 | x30 |
 *              +-----+-----+-----+-----+-----+-----+-----+-----+-----+-----+
 *  offset      80    88    96    104   112   120   128   136   144   152
 *
 * A new coroutine's first frame (built by coro.c) holds fn in x19, arg in
 * x20, its coro_t in x21, x29 = 0 and the trampoline in x30.
 */
#include "coro/frame.h"

#if defined(__ARM_FEATURE_BTI_DEFAULT)
# define BTI_C  bti c
#else
# define BTI_C
#endif

    .text

/* Store the callee-saved registers: the frame a suspended context leaves
 * at its saved sp. */
.macro SAVE_FRAME
    sub     sp, sp, #CORO_FRAME_SIZE    /* room for the frame */
    .cfi_adjust_cfa_offset CORO_FRAME_SIZE
    stp     d8, d9, [sp, #0]            /* callee-saved FP low halves */
    stp     d10, d11, [sp, #16]         /* callee-saved */
    stp     d12, d13, [sp, #32]         /* callee-saved */
    stp     d14, d15, [sp, #48]         /* callee-saved */
    stp     x19, x20, [sp, #64]         /* callee-saved */
    stp     x21, x22, [sp, #80]         /* callee-saved */
    stp     x23, x24, [sp, #96]         /* callee-saved */
    stp     x25, x26, [sp, #112]        /* callee-saved */
    stp     x27, x28, [sp, #128]        /* callee-saved */
    stp     x29, x30, [sp, #144]        /* frame pointer, return address */
    .cfi_rel_offset x29, 144
    .cfi_rel_offset x30, 152
.endm

/* void ringo__coro_switch(void **save_sp, void *to_sp)
 *   x0 = where to store the running context's sp, x1 = sp to resume. */
    .globl  ringo__coro_switch
    .hidden ringo__coro_switch
    .type   ringo__coro_switch, %function
    .p2align 4
ringo__coro_switch:
    .cfi_startproc
    BTI_C                               /* BTI: valid call target */
    SAVE_FRAME
    mov     x9, sp                      /* sp cannot be stored directly */
    str     x9, [x0]                    /* publish our sp: now suspended */
    mov     sp, x1                      /* adopt the target's stack */
.Lrestore:                              /* also entered from the trampoline */
    ldp     d8, d9, [sp, #0]            /* restore target's d8, d9 */
    ldp     d10, d11, [sp, #16]         /* restore target's d10, d11 */
    ldp     d12, d13, [sp, #32]         /* restore target's d12, d13 */
    ldp     d14, d15, [sp, #48]         /* restore target's d14, d15 */
    ldp     x19, x20, [sp, #64]         /* restore target's x19, x20 */
    ldp     x21, x22, [sp, #80]         /* restore target's x21, x22 */
    ldp     x23, x24, [sp, #96]         /* restore target's x23, x24 */
    ldp     x25, x26, [sp, #112]        /* restore target's x25, x26 */
    ldp     x27, x28, [sp, #128]        /* restore target's x27, x28 */
    ldp     x29, x30, [sp, #144]        /* target's fp and resume address */
    add     sp, sp, #CORO_FRAME_SIZE    /* pop the frame */
    .cfi_adjust_cfa_offset -CORO_FRAME_SIZE
    .cfi_restore x29
    .cfi_restore x30
    ret                                 /* resume the target (x30) */
    .cfi_endproc
    .size   ringo__coro_switch, .-ringo__coro_switch

/* void ringo__coro_start(void **save_sp, void *to_sp)
 *   As ringo__coro_switch, to a coroutine never run yet (to_sp: the first
 *   frame coro.c built). Its entry is branched to, not returned to, so the
 *   return-address predictor keeps our own call on top for the entry
 *   function's return to its starter (see the x86-64 file). */
    .globl  ringo__coro_start
    .hidden ringo__coro_start
    .type   ringo__coro_start, %function
    .p2align 4
ringo__coro_start:
    .cfi_startproc
    BTI_C
    SAVE_FRAME
    mov     x9, sp
    str     x9, [x0]                    /* publish our sp: now suspended */
    ldp     x19, x20, [x1, #CORO_FRAME_X19]      /* fn, arg */
    ldr     x21, [x1, #(CORO_FRAME_X19 + 16)]    /* its coro_t */
    mov     x29, #0                     /* no caller frame */
    add     sp, x1, #CORO_FRAME_SIZE    /* sp == top, as after the frame's ret */
    b       .Lentry
    .cfi_endproc
    .size   ringo__coro_start, .-ringo__coro_start

/* First code a new coroutine runs, sp 16-byte aligned, x19 = fn,
 * x20 = arg, x21 = its coro_t, x29 = 0: entered by the first frame's ret
 * or by ringo__coro_start. fn returns the coro_t to resume (the running
 * coroutine pointer already set to it), or NULL. */
    .globl  ringo__coro_trampoline
    .hidden ringo__coro_trampoline
    .type   ringo__coro_trampoline, %function
    .p2align 4
ringo__coro_trampoline:
    .cfi_startproc
    .cfi_undefined x30                  /* outermost frame: unwinders stop */
    BTI_C                               /* harmless when entered by ret */
.Lentry:
    mov     x0, x20                     /* first argument: arg */
    blr     x19                         /* to = fn(arg) */
    cbz     x0, 1f
    ldr     x9, [x0]                    /* to->sp: this stack is dead now */
    mov     sp, x9
    b       .Lrestore
1:  mov     x0, x21                     /* returned nothing: which coroutine */
    bl      ringo__coro_returned        /* prints the name and aborts */
    brk     #0                          /* not reached */
    .cfi_endproc
    .size   ringo__coro_trampoline, .-ringo__coro_trampoline

#if defined(__ARM_FEATURE_BTI_DEFAULT)
/* Mark the object BTI-compatible (entry points start with bti c). */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                           /* name size ("GNU\0") */
    .long   16                          /* descriptor size */
    .long   5                           /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"                       /* owner */
    .long   0xc0000000                  /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long   4                           /* property data size */
    .long   1                           /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .p2align 3                          /* pad descriptor to 8 bytes */
#endif

    .section .note.GNU-stack, "", %progbits     /* no executable stack */
