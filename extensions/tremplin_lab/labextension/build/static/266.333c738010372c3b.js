"use strict";(self.rspackChunk_tremplin_exam_clock=self.rspackChunk_tremplin_exam_clock||[]).push([[266],{646(e,t,n){var r=n(601),o=n.n(r),a=n(314),i=(n.n(a))()(o());i.push([e.id,`/* @tremplin/exam-clock — no external fonts or images. */

#tremplin-exam-clock {
  display: flex;
  align-items: center;
  gap: 8px;
  margin: 0 8px;
  padding: 2px 10px;
  border-radius: 4px;
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  font-variant-numeric: tabular-nums;
  white-space: nowrap;
  color: var(--jp-ui-font-color0);
  background: var(--jp-layout-color2);
  border: 1px solid var(--jp-border-color2);
  cursor: default;
}

#tremplin-exam-clock.tremplin-exam-warning {
  background: #fff3b0;
  border-color: #e0b400;
  color: #3d3000;
}

#tremplin-exam-clock.tremplin-exam-critical {
  background: #d32f2f;
  border-color: #9a0007;
  color: #fff;
  font-weight: bold;
}

#tremplin-exam-clock.tremplin-exam-over {
  background: var(--jp-layout-color3);
  font-weight: bold;
}

#tremplin-exam-clock .tremplin-exam-offline-mark {
  display: none;
  padding: 0 6px;
  border-radius: 3px;
  font-size: var(--jp-ui-font-size0);
  background: #555;
  color: #fff;
}

#tremplin-exam-clock.tremplin-exam-offline .tremplin-exam-offline-mark {
  display: inline;
}

.tremplin-exam-closed {
  overflow: hidden;
  background: #fdeded;
}

.tremplin-exam-closed .tremplin-exam-closed-body {
  box-sizing: border-box;
  padding: 8px 12px;
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
  line-height: 1.4;
  color: #5f2120;
  background: #fdeded;
  border-bottom: 2px solid #d32f2f;
}

.tremplin-exam-closed .tremplin-exam-closed-fr {
  font-weight: bold;
}

.tremplin-exam-closed .tremplin-exam-receipt {
  margin-top: 4px;
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-ui-font-size0);
}

/* What became of the last save (beside the countdown). */
#tremplin-exam-clock .tremplin-exam-autosave:empty {
  display: none;
}

#tremplin-exam-clock .tremplin-exam-autosave-kept {
  font-size: var(--jp-ui-font-size0);
  opacity: 0.8;
}

#tremplin-exam-clock .tremplin-exam-autosave-pending {
  font-size: var(--jp-ui-font-size0);
  font-style: italic;
}

#tremplin-exam-clock .tremplin-exam-autosave-failed {
  display: inline-flex;
  flex-direction: column;
  padding: 0 6px;
  border-radius: 3px;
  font-size: var(--jp-ui-font-size0);
  line-height: 1.15;
  font-weight: bold;
  background: #fff;
  color: #b71c1c;
  border: 2px solid #d32f2f;
}
`,""]),n.d(t,{},{A:i})},314(e){e.exports=function(e){var t=[];return t.toString=function(){return this.map(function(t){var n="",r=void 0!==t[5];return t[4]&&(n+="@supports (".concat(t[4],") {")),t[2]&&(n+="@media ".concat(t[2]," {")),r&&(n+="@layer".concat(t[5].length>0?" ".concat(t[5]):""," {")),n+=e(t),r&&(n+="}"),t[2]&&(n+="}"),t[4]&&(n+="}"),n}).join("")},t.i=function(e,n,r,o,a){"string"==typeof e&&(e=[[null,e,void 0]]);var i={};if(r)for(var c=0;c<this.length;c++){var l=this[c][0];null!=l&&(i[l]=!0)}for(var s=0;s<e.length;s++){var p=[].concat(e[s]);r&&i[p[0]]||(void 0!==a&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=a),n&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=n),o&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=o):p[4]="".concat(o)),t.push(p))}},t}},601(e){e.exports=function(e){return e[1]}},665(e,t,n){n.r(t);var r=n(72),o=n.n(r),a=n(825),i=n.n(a),c=n(659),l=n.n(c),s=n(56),p=n.n(s),f=n(540),d=n.n(f),u=n(113),m=n.n(u),v=n(646),x={};x.styleTagTransform=m(),x.setAttributes=p(),x.insert=l().bind(null,"head"),x.domAPI=i(),x.insertStyleElement=d(),o()(v.A,x);let h=v.A&&v.A.locals?v.A.locals:void 0;n.d(t,{},{default:h})},72(e){var t=[];function n(e){for(var n=-1,r=0;r<t.length;r++)if(t[r].identifier===e){n=r;break}return n}function r(e,r){for(var o={},a=[],i=0;i<e.length;i++){var c=e[i],l=r.base?c[0]+r.base:c[0],s=o[l]||0,p="".concat(l," ").concat(s);o[l]=s+1;var f=n(p),d={css:c[1],media:c[2],sourceMap:c[3],supports:c[4],layer:c[5]};if(-1!==f)t[f].references++,t[f].updater(d);else{var u=function(e,t){var n=t.domAPI(t);return n.update(e),function(t){t?(t.css!==e.css||t.media!==e.media||t.sourceMap!==e.sourceMap||t.supports!==e.supports||t.layer!==e.layer)&&n.update(e=t):n.remove()}}(d,r);r.byIndex=i,t.splice(i,0,{identifier:p,updater:u,references:1})}a.push(p)}return a}e.exports=function(e,o){var a=r(e=e||[],o=o||{});return function(e){e=e||[];for(var i=0;i<a.length;i++){var c=n(a[i]);t[c].references--}for(var l=r(e,o),s=0;s<a.length;s++){var p=n(a[s]);0===t[p].references&&(t[p].updater(),t.splice(p,1))}a=l}}},659(e){var t={};e.exports=function(e,n){var r=function(e){if(void 0===t[e]){var n=document.querySelector(e);if(window.HTMLIFrameElement&&n instanceof window.HTMLIFrameElement)try{n=n.contentDocument.head}catch(e){n=null}t[e]=n}return t[e]}(e);if(!r)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");r.appendChild(n)}},540(e){e.exports=function(e){var t=document.createElement("style");return e.setAttributes(t,e.attributes),e.insert(t,e.options),t}},56(e,t,n){e.exports=function(e){var t=n.nc;t&&e.setAttribute("nonce",t)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var t=e.insertStyleElement(e);return{update:function(n){var r,o,a;r="",n.supports&&(r+="@supports (".concat(n.supports,") {")),n.media&&(r+="@media ".concat(n.media," {")),(o=void 0!==n.layer)&&(r+="@layer".concat(n.layer.length>0?" ".concat(n.layer):""," {")),r+=n.css,o&&(r+="}"),n.media&&(r+="}"),n.supports&&(r+="}"),(a=n.sourceMap)&&"u">typeof btoa&&(r+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(r,t,e.options)},remove:function(){var e;null===(e=t).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,t){if(t.styleSheet)t.styleSheet.cssText=e;else{for(;t.firstChild;)t.removeChild(t.firstChild);t.appendChild(document.createTextNode(e))}}}}]);